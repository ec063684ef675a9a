"""Start ``presslens serve`` as a child process on a loopback port, and always stop it.

Shared by ``scripts/fuzz.py``, ``scripts/soak.py`` and their tests. The server runs in its own process
group (so a kill reaches anything it started), logs to a file, and is killed in ``finally`` also on
Ctrl-C. Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api.server import wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def rss_kib(self) -> int:
        """Resident set size of the server process (VmRSS from /proc), in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line in /proc status")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def running_server(workdir: Path, env: dict[str, str] | None = None, ready_timeout: float = 180.0,
                   args: list[str] | None = None) -> Iterator[Server]:
    """A ``presslens serve`` child on 127.0.0.1 with ``PRESSLENS_*`` settings from ``env``; yields when ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "server.log"
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                "PRESSLENS_FEEDBACK_DB": str(workdir / "feedback.sqlite3"), **(env or {})}
    cmd = [sys.executable, "-m", "api.cli", "serve", "--host", HOST, "--port", str(port), *(args or [])]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(f"http://{HOST}:{port}", proc, log)
    try:
        state = wait_until_ready(server.url + "/readyz", lambda: proc.poll() is None, ready_timeout, interval=0.2)
        if state == "died":
            raise RuntimeError(f"the server exited with {proc.returncode} during start-up:\n{server.log_tail()}")
        if state == "timeout":
            raise TimeoutError(f"{server.url}/readyz not ready after {ready_timeout:g} s:\n{server.log_tail()}")
        yield server
    finally:
        _stop(proc)
