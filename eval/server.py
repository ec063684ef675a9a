"""Server control: start a server child process on loopback, wait until it is ready, measure it, stop it.

The one implementation behind ``presslens bench`` (the real service and the naive peer), ``scripts/fuzz.py``,
``scripts/soak.py``, the in-thread test server (``api.server.serve_in_thread``) and their tests. A child runs
in its own process group (so a kill reaches anything it started), logs to a file, and is stopped on every
exit path. Only 127.0.0.1 is ever used. Nothing here imports the service: it is started as a command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from presslens.model.settings import child_env

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server child that exited or never became ready; the message ends with its last log line."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_ready(url: str, alive: Callable[[], bool], timeout: float, interval: float = 0.05) -> str:
    """Poll ``url`` until it answers 200: ``"ready"``, ``"died"`` once ``alive()`` is false, or ``"timeout"``.

    One loop for every caller that starts a server and waits for it (tests, benchmark, fuzz and soak).
    """
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if not alive():
                return "died"
            try:
                if client.get(url).status_code == 200:
                    return "ready"
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return "timeout"
            time.sleep(interval)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out.extend(int(x) for x in task.read_text().split())
        except (OSError, ValueError):
            pass
    return out


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of ``pid`` plus its descendants, in MiB; None where /proc is absent."""
    seen, todo, total, found = set(), [pid], 0, False
    while todo and len(seen) < 256:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    found = True
                    break
        except OSError:
            continue
        todo.extend(_children(p))
    return round(total / 1024, 1) if found else None


def serve_command(port: int, args: list[str] | None = None, module: str = "presslens.api.cli serve") -> list[str]:
    """``python -m <module> --host 127.0.0.1 --port <port> ARGS`` (default: the real service)."""
    return [sys.executable, "-m", *module.split(), "--host", HOST, "--port", str(port), *(args or [])]


class ServerProcess:
    """A server subprocess on loopback: start, wait until ready, measure, stop (always)."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None):
        self.name, self.argv, self.port, self.log_path = name, argv, port, Path(log_path)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://{HOST}:{port}"
        self.cold_start_s: float | None = None
        self._log = None

    def _child_env(self) -> dict[str, str]:
        env = child_env()
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env["TOKENIZERS_PARALLELISM"] = "false"
        # Keep a measured or fuzzed server from writing into the user's feedback store.
        env["PRESSLENS_FEEDBACK_DB"] = str(self.log_path.parent / f"{self.name}-feedback.sqlite3")
        env.update(self.env)
        return env

    def start(self, timeout: float, interval: float = 0.05) -> float:
        """Start the child and wait for ``/readyz``; returns the cold start in seconds."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        # Own session, so stop() can signal the whole process group.
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self._child_env(),
                                     cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL, start_new_session=True)
        state = wait_until_ready(self.url + "/readyz", lambda: self.proc.poll() is None, timeout, interval)
        if state == "died":
            raise ServerStartError(f"{self.name} server exited with code {self.proc.returncode} before it was "
                                   f"ready: {self.last_log_line()}")
        if state == "timeout":
            raise ServerStartError(f"{self.name} server was not ready after {timeout:.0f} s: "
                                   f"{self.last_log_line()}")
        self.cold_start_s = time.perf_counter() - t0
        return self.cold_start_s

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def last_log_line(self) -> str:
        lines = [ln for ln in self.log_tail(10_000).splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "(empty log)"

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def rss_kib(self) -> int:
        """Resident set size of the server process now (VmRSS from /proc), in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line in /proc status")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.proc = None


@contextlib.contextmanager
def running_server(workdir: Path, env: dict[str, str] | None = None, ready_timeout: float = 180.0,
                   args: list[str] | None = None) -> Iterator[ServerProcess]:
    """A ``presslens serve`` child with ``PRESSLENS_*`` settings from ``env``; yields it once ready."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = ServerProcess("presslens", serve_command(port, args), port, workdir / "server.log",
                           env={"PRESSLENS_FEEDBACK_DB": str(workdir / "feedback.sqlite3"), **(env or {})})
    try:
        server.start(ready_timeout, interval=0.2)
        yield server
    finally:
        server.stop()
