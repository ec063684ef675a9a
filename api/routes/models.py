"""GET /v1/models and the admin-only POST /v1/models/reload."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request
from presslens.model.encoder import ModelLoadError

from .. import registry
from ..deps import ModelDep, require_admin, require_api_key
from ..errors import ApiError
from ..schemas import ErrorOut, ModelsResponse, ReloadRequest

log = logging.getLogger("presslens.api")
router = APIRouter(prefix="/v1/models", tags=["models"],
                   responses={code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)})


@router.get("", response_model=ModelsResponse, dependencies=[Depends(require_api_key)])
async def list_models(request: Request, loaded: ModelDep) -> dict:
    """The serving stance model and summarizer, and the checkpoints a reload could load."""
    active = loaded.info["stance"]
    models = [active, loaded.info["summarizer"]]
    others = await asyncio.to_thread(_describe_folder, request.app.state.settings.models_dir, active["path"])
    return {"models": models + others}


def _describe_folder(models_dir: str | None, active_path: str) -> list[dict]:
    out = []
    for path in registry.list_checkpoints(models_dir):
        if str(path.resolve()) == str(active_path):
            continue
        try:
            out.append(registry.describe_stance(path.resolve(), active=False))
        except (OSError, ValueError):  # unreadable or not JSON: listed nowhere, refused on reload
            continue
    return out


@router.post("/reload", response_model=ModelsResponse, dependencies=[Depends(require_admin)])
async def reload(req: ReloadRequest, request: Request, current: ModelDep) -> dict:
    """Load ``checkpoint`` from the models folder, validate it and swap it in; a bad one is refused.

    Requests already running finish on the old model; the old model keeps serving if anything fails.
    """
    app = request.app
    if app.state.reload_lock.locked():
        raise ApiError(409, "a reload is already running", "conflict")
    async with app.state.reload_lock:
        try:
            path = registry.resolve_checkpoint(app.state.settings.models_dir, req.checkpoint)
            new = await asyncio.to_thread(registry.load_replacement, path, current)
            await asyncio.wrap_future(app.state.queue.run_exclusive(lambda: registry.smoke_test(new.analyzer)))
        except PermissionError as exc:
            _refused(app, "forbidden")
            raise ApiError(403, f"refused: {exc}", "forbidden") from None
        except FileNotFoundError as exc:
            _refused(app, "not_found")
            raise ApiError(404, f"refused: {exc}", "not_found") from None
        except ModelLoadError as exc:
            _refused(app, "invalid")
            raise ApiError(422, f"refused, the current model keeps serving: {exc}", "invalid_checkpoint") from None
        except Exception:  # not the checkpoint's fault as far as anyone can tell: a server fault, logged
            _refused(app, "error")
            log.exception("reload of %r failed", req.checkpoint)
            raise ApiError(500, "the reload failed on the server's side; the current model keeps serving and "
                                "the fault has been logged", "reload_failed") from None
        app.state.slot.swap(new)  # the old model is dropped here: nothing else keeps it (tests/api/test_reload.py)
        registry.warm_in_background(new)
        app.state.metrics.set_model("stance", new.info["stance"]["version"])
        app.state.metrics.set_model("summarizer", new.info["summarizer"]["version"])
        app.state.metrics.reloads.labels("ok").inc()
    return {"models": [new.info["stance"], new.info["summarizer"]]}


def _refused(app, outcome: str) -> None:
    app.state.metrics.reloads.labels(outcome).inc()
