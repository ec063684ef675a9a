"""Prepare a precision for a stance checkpoint: build its export and run the gate against fp32, once.

``prepare_and_gate`` is what ``presslens prepare`` calls (with the dev set where it has one) and what a
server's first start runs in a child process (``python -m presslens.model.runtime.prepare STANCE_DIR PRECISION``, through
``model.runtime.children.gate_in_subprocess``); the whole ladder, gated rung by rung, is
``model.runtime.loader.prepare_ladder``. The verdict is cached (``model.precision.verdict_path``); the build
is cached beside the fp32 export, so a second call costs only the gate when a dev set is newly given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..encoder import ModelLoadError
from ..errors import exit_status
from ..stance import StanceModel, encoder_sources, read_config, torch_encoder
from . import lowp
from .gate import DevSet, probe_data, run_gate
from .onnx import choose_runtime
from .precision import cpu_info, read_verdict, verdict_path, write_verdict

log = logging.getLogger("presslens.precision")


def _build(stance_dir: Path, precision: str, fp32_dir: Path) -> Path:
    out = lowp.precision_dir(fp32_dir, precision)
    if (out / "export.json").is_file():
        return out
    log.info("building the %s export into %s (once per set of weights)", precision, out)
    if precision == "int8":
        return lowp.build_int8(fp32_dir, out)
    if precision == "bf16":
        if not lowp.openvino_available():
            raise ModelLoadError("bf16 needs the package openvino (pip install openvino)")
        torch_encoder = StanceModel.from_pretrained(stance_dir).encoder
        return lowp.build_bf16(torch_encoder, fp32_dir, out)
    raise ModelLoadError(f"no build for precision {precision!r}")


def _fp32_reference(stance_dir: Path) -> StanceModel:
    """The fp32 ONNX Runtime model a candidate is gated against. Exported here if need be: this runs in the
    gate's child process, or in ``presslens prepare`` after the loader exported it, and it may not import the
    loader (which launches this module as a child)."""
    config = read_config(stance_dir)
    encoder = choose_runtime("onnx", lambda: encoder_sources(config, stance_dir),
                             lambda: torch_encoder(config, stance_dir))
    return StanceModel.from_pretrained(stance_dir, encoder=encoder)


def prepare_and_gate(stance_dir: str | os.PathLike, precision: str, dev: DevSet | None = None,
                     force: bool = False) -> dict:
    """The verdict for ``precision`` on this checkpoint: cached, or built and gated now (and cached)."""
    stance_dir = Path(stance_dir).resolve()
    reference = _fp32_reference(stance_dir)
    fp32_dir = reference.encoder.directory
    path = verdict_path(fp32_dir, precision, stance_dir)
    cached = None if force else read_verdict(path, dev.sha256 if dev else None)
    if cached is not None:
        return cached
    candidate = lowp.load(_build(stance_dir, precision, fp32_dir))
    verdict = run_gate(reference, reference.encoder, candidate, probe_data(dev))
    verdict.update(precision=precision, backend=lowp.BACKENDS[precision], export=candidate.directory.name,
                   stance=str(stance_dir), cpu=cpu_info().to_dict())
    write_verdict(path, verdict)
    return verdict


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m presslens.model.runtime.prepare STANCE_DIR PRECISION``: build and gate a precision; the verdict is cached."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m presslens.model.runtime.prepare", description=main.__doc__.split(": ", 1)[1])
    ap.add_argument("stance_dir")
    ap.add_argument("precision", choices=list(lowp.BACKENDS)[1:])
    ns = ap.parse_args(argv)
    return exit_status(lambda: prepare_and_gate(ns.stance_dir, ns.precision))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
