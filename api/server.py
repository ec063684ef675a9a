"""Run the service with uvicorn."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from presslens.eval.server import wait_until_ready

from .settings import Settings


def run(settings: Settings | None = None) -> None:
    import uvicorn

    from .app import create_app
    from .malloc import limit_arenas

    settings = settings or Settings()
    limit_arenas(settings.malloc_arenas)  # before uvicorn and the model start their threads
    # One process: the batch worker thread owns the model; more uvicorn workers would each load a copy.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                timeout_graceful_shutdown=30)


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, ready_path: str | None = "/readyz",
                    timeout: float = 120.0) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server in a thread; yields its base URL (port 0: an ephemeral one).

    Used by the end-to-end tests and the benchmark. Waits until ``ready_path`` answers 200.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        state = "ready" if ready_path is None else wait_until_ready(url + ready_path, thread.is_alive, timeout)
        if state == "died":
            raise RuntimeError("the server stopped during start-up")
        if state == "timeout":
            raise TimeoutError(f"{url}{ready_path} not ready after {timeout:g} s")
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
