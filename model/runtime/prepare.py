"""Prepare a precision for a stance checkpoint: build its export and run the gate against fp32, once.

``prepare_and_gate`` is what ``presslens prepare`` calls (with the dev set where it has one) and what a
server's first start runs in a child process (``python -m model.prepare STANCE_DIR PRECISION``, through
``model.precision.gate_in_subprocess``). The verdict is cached (``model.precision.verdict_path``); the build
is cached beside the fp32 export, so a second call costs only the gate when a dev set is newly given.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..encoder import ModelLoadError
from ..stance import StanceModel
from . import lowp
from .gate import DevSet, probe_data, run_gate
from .loader import load_stance, stance_encoder
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


def prepare_and_gate(stance_dir: str | os.PathLike, precision: str, dev: DevSet | None = None,
                     force: bool = False) -> dict:
    """The verdict for ``precision`` on this checkpoint: cached, or built and gated now (and cached)."""
    stance_dir = Path(stance_dir).resolve()
    reference = load_stance(stance_dir, runtime="onnx")  # fp32, exported first if need be
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


def prepare_ladder(stance_dir: str | os.PathLike, requested: str, dev: DevSet | None = None,
                   say: Callable[[str], object] = print) -> dict:
    """Gate the rungs ``requested`` tries on this CPU, top first, down to the first that passes (``say``-ing
    one line per rung), then load the checkpoint as a server would; its ``precision_choice`` comes back."""
    from .gate import summary
    from .precision import plan

    cpu = cpu_info()
    tries, skipped = plan(requested, cpu)
    say(f"CPU: {cpu.model}; flags: {', '.join(cpu.to_dict()['flags']) or 'none of interest'}")
    for p, why in skipped.items():
        say(f"{p}: skipped ({why})")
    for p, _why in tries:
        if p == "fp32":
            break
        try:
            verdict = prepare_and_gate(stance_dir, p, dev)
        except ModelLoadError as exc:
            say(f"{p}: could not be prepared: {exc}")
            continue
        say(f"{p} ({verdict['backend']}): {'passed' if verdict['passed'] else 'refused by'} the gate: "
            f"{summary(verdict)}")
        if verdict["passed"]:
            break
    encoder = stance_encoder(stance_dir, runtime="onnx", precision=requested)
    if requested == "fp32":  # no ladder is climbed for fp32: say so the way the ladder would
        from .precision import fp32_choice

        fp32_choice(encoder, requested, tries[-1][1], cpu)
    choice = encoder.precision_choice
    say(f"PRESSLENS_PRECISION={requested} serves {choice['precision']}: {choice['why']}")
    return choice


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model.prepare STANCE_DIR PRECISION``: build and gate a precision; the verdict is cached."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m model.prepare", description=main.__doc__.split(": ", 1)[1])
    ap.add_argument("stance_dir")
    ap.add_argument("precision", choices=list(lowp.BACKENDS)[1:])
    ns = ap.parse_args(argv)
    try:
        prepare_and_gate(ns.stance_dir, ns.precision)
    except ModelLoadError as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
