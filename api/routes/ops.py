"""Liveness, readiness, Prometheus metrics and /info (as text-embeddings-inference has)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..deps import ModelDep
from ..errors import ApiError
from ..schemas import ErrorOut

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive (it may still be loading the model)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorOut}})
async def readyz(request: Request) -> dict:
    """Ready when the model has loaded; 503 before that (and if loading failed)."""
    slot = request.app.state.slot
    if slot.current is None:
        if slot.error:
            raise ApiError(503, f"the model failed to load: {slot.error}", "model_unavailable")
        raise ApiError(503, "the model is still loading", "model_loading", headers={"Retry-After": "5"})
    return {"status": "ready", "model": slot.current.version}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests, latency, batch sizes, queue depth, model version."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/info", responses={503: {"model": ErrorOut}})
async def info(request: Request, loaded: ModelDep) -> dict:
    """The serving model and the limits a client must respect."""
    s = request.app.state.settings
    return {
        "name": "presslens", "version": request.app.version, "model": loaded.version,
        "stance": {k: loaded.info["stance"][k] for k in ("id", "version", "encoder", "mode", "threshold")},
        "summarizer": {k: loaded.info["summarizer"][k] for k in ("id", "version")},
        "runtime": {"encoder": loaded.info.get("runtime", "torch"), "requested": loaded.info.get("runtime_requested"),
                    "precision": loaded.info.get("precision"), "warm": loaded.info.get("warm")},
        "settings": s.core.to_dict(),
        "limits": s.limits(),
        "batching": {"max_articles": s.batch_max_articles, "max_tokens": s.batch_max_tokens,
                     "max_wait_ms": s.batch_wait_ms, "queue_size": s.queue_size},
        "auth": {"api_key": s.api_key is not None, "admin": s.admin_token is not None},
    }
