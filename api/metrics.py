"""Prometheus metrics on a per-app ``CollectorRegistry`` (two apps in one test process do not collide)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .batching import Metrics

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKEN_BUCKETS = (64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class ServiceMetrics(Metrics):
    def __init__(self, queue_depth: Callable[[], float]):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("presslens_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("presslens_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_articles = Histogram("presslens_batch_articles", "articles per model call",
                                        buckets=_SIZE_BUCKETS, registry=r)
        self.batch_requests = Histogram("presslens_batch_requests", "requests merged into one batch",
                                        buckets=_SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("presslens_batch_tokens", "estimated encoder tokens per batch",
                                      buckets=_TOKEN_BUCKETS, registry=r)
        self.inference = Histogram("presslens_inference_seconds", "model time per batch",
                                   buckets=_LATENCY_BUCKETS, registry=r)
        self.articles = Counter("presslens_articles", "articles analysed", registry=r)
        self.queue_depth = Gauge("presslens_queue_depth", "requests waiting for the model", registry=r)
        self.queue_depth.set_function(queue_depth)
        self.rejected = Counter("presslens_rejected", "requests turned away", ["reason"], registry=r)
        self.model = Gauge("presslens_model_info", "the model serving now (value 1)", ["kind", "version"],
                           registry=r)
        self.reloads = Counter("presslens_model_reloads", "model reload attempts", ["outcome"], registry=r)
        self.feedback = Counter("presslens_feedback", "feedback rows stored", ["kind"], registry=r)

    def batch(self, articles: int, tokens: int, requests: int, seconds: float) -> None:
        self.batch_articles.observe(articles)
        self.batch_requests.observe(requests)
        self.batch_tokens.observe(tokens)
        self.inference.observe(seconds)
        self.articles.inc(articles)

    def set_model(self, kind: str, version: str) -> None:
        for labels in list(self.model._metrics):  # one series per kind: drop the previous version
            if labels[0] == kind:
                self.model.remove(*labels)
        self.model.labels(kind=kind, version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _plain_route(scope: Scope) -> str:
    path = scope.get("path", "")
    if path.startswith("/static/"):
        return "/static"
    if path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        return path
    return "unmatched"  # unknown paths (404s) are one series, however many a scanner tries


class RequestMetricsMiddleware:
    """Counts and times every request by its route template (``/v1/analyze``), not its raw path."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")  # set by FastAPI's own routes; /docs and /static are plain Starlette
            name = getattr(route, "path", None) or _plain_route(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, name, str(status)).inc()
            self.metrics.latency.labels(method, name).observe(time.perf_counter() - t0)
