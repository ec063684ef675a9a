"""The serving machinery's child processes: an ONNX export and a precision's build and gate, each run as
``python -m`` of the same interpreter, so the memory they take goes back with the process.

The launchers live here, above what the children import (``export.py`` and ``prepare.py`` import the
runtimes, the ladder and the checkpoint, never this file), so a launch is not an import loop;
``tests/test_layering.py`` reads ``CHILD_PROCESSES`` as imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import ModelLoadError

#: modules this file runs as child processes (``python -m``); tests/test_layering.py reads these as imports
CHILD_PROCESSES = {"export": "presslens.model.runtime.export", "prepare": "presslens.model.runtime.prepare"}


def run_module(module: str, args: list[str], timeout: float, what: str) -> None:
    """``python -m module args`` in a child process of the same interpreter (so the same installed presslens);
    a timeout or a failure raises a one-line ``ModelLoadError`` naming ``what`` (the child's last line of
    output says why)."""
    try:
        proc = subprocess.run([sys.executable, "-m", module, *args],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(f"{what} took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        raise ModelLoadError(f"{what} failed: {lines[-1] if lines else proc.returncode}")


def export_in_subprocess(stance_dir: str | os.PathLike, directory: Path, timeout: float = 3600) -> Path:
    """Export a stance checkpoint's encoder in a child process (``python -m presslens.model.runtime.export``).

    Loading the torch model for the export costs several hundred MB that the allocator keeps after the
    model is freed; in a child process that memory goes back with the process, so a server that had to
    export on its first start has the same footprint as one that found the export cached.
    """
    run_module(CHILD_PROCESSES["export"], [str(stance_dir), str(directory)], timeout, f"the ONNX export of {stance_dir}")
    return directory


def gate_in_subprocess(stance_dir: str | os.PathLike, precision: str, timeout: float = 3600) -> None:
    """Prepare ``precision`` for a checkpoint and gate it in a child process (``python -m ...runtime.prepare``),
    so the fp32 reference, the torch model a bf16 build needs and the candidate never enter the caller's heap.
    The verdict is left in the cache; a failure to prepare raises ``ModelLoadError``."""
    run_module(CHILD_PROCESSES["prepare"], [str(stance_dir), precision], timeout, f"preparing {precision}")

