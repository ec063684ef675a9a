"""FastAPI app factory. Nothing happens at import time; the model loads in the lifespan, in the background.

While the model loads, ``/healthz`` answers and ``/readyz`` (and every model route) says 503 "loading",
as orchestrators expect. A model that fails to load leaves the process up with ``/readyz`` naming the
error, so the cause is visible instead of a crash loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .batching import BatchQueue, LoadedModel, ModelSlot
from .errors import BodyLimitMiddleware, install_error_handlers
from .feedback import FeedbackStore, open_store
from .metrics import RequestMetricsMiddleware, ServiceMetrics
from .routes import analyze, feedback, models, ops, web
from .schemas import publish_limits
from .settings import Settings

log = logging.getLogger("presslens.api")
Loader = Callable[[Settings], LoadedModel]


def default_loader(settings: Settings) -> LoadedModel:
    from presslens.model.runtime.onnx import precision_setting

    from . import registry

    return registry.load_initial(settings.model, settings.summarizer, settings.core.runtime, precision_setting())


def create_app(settings: Settings | None = None, analyzer=None, *, loader: Loader | None = None,
               feedback_store: FeedbackStore | None = None) -> FastAPI:
    """Build the service. ``analyzer`` (tests) skips loading; ``loader`` replaces how the model loads."""
    settings = settings or Settings()
    slot = ModelSlot()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.feedback = feedback_store or await asyncio.to_thread(open_store, settings.feedback_db)
        app.state.queue.start()
        task = None
        if slot.current is None:
            task = asyncio.create_task(_load(app, loader or default_loader))
        try:
            yield
        finally:
            if task is not None and not task.done():
                task.cancel()
            await asyncio.to_thread(app.state.queue.stop)
            if feedback_store is None:
                app.state.feedback.close()

    app = FastAPI(title="presslens", version="0.1.0", lifespan=lifespan,
                  description="Condense news articles into key claims and tell straight reporting from the "
                              "writer's commentary.")
    metrics = ServiceMetrics(queue_depth=lambda: app.state.queue.depth())
    app.state.settings = settings
    app.state.slot = slot
    app.state.metrics = metrics
    app.state.reload_lock = asyncio.Lock()
    app.state.queue = BatchQueue(slot, max_articles=settings.batch_max_articles,
                                 max_tokens=settings.batch_max_tokens, max_wait=settings.batch_wait_ms / 1000,
                                 queue_size=settings.queue_size, metrics=metrics)
    if analyzer is not None:
        from . import registry

        slot.swap(registry.describe_given(analyzer, settings))
        metrics.set_model("stance", slot.current.info["stance"]["version"])

    plain_openapi = app.openapi

    def openapi() -> dict:  # the schema publishes this deployment's limits, the numbers the checks use
        if app.openapi_schema is None:
            app.openapi_schema = publish_limits(plain_openapi(), settings.limits())
        return app.openapi_schema

    app.openapi = openapi
    install_error_handlers(app)
    for module in (ops, analyze, feedback, models, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")

    # Outermost last: the body limit runs before anything reads the body; metrics see every answer.
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, drain=settings.drain_body_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


async def _load(app: FastAPI, loader: Loader) -> None:
    settings: Settings = app.state.settings
    try:
        loaded = await asyncio.to_thread(loader, settings)
    except Exception as exc:  # ModelLoadError and anything else: keep serving /healthz and say why
        app.state.slot.error = str(exc) or type(exc).__name__
        log.error("model failed to load: %s", app.state.slot.error)
        return
    app.state.slot.swap(loaded)
    app.state.metrics.set_model("stance", loaded.info["stance"]["version"])
    app.state.metrics.set_model("summarizer", loaded.info["summarizer"]["version"])
    log.info("model ready: %s", loaded.version)
    from . import registry

    registry.warm_in_background(loaded)
