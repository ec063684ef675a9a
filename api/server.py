"""Run the service with uvicorn."""

from __future__ import annotations

from .settings import Settings


def run(host: str | None = None, port: int | None = None, model: str | None = None) -> None:
    import uvicorn

    from .app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port, "model": model}.items() if v is not None}
    settings = Settings(**overrides)
    # One process: the batch worker thread owns the model; more uvicorn workers would each load a copy.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=30)
