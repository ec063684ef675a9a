"""The one loader that hands a stance model its runtime and precision.

``StanceModel.from_pretrained`` reads a checkpoint around the encoder it is given; this module chooses that
encoder: the torch reference, an ONNX Runtime export of the same weights (``runtime``: ``torch``, ``onnx``,
``auto``), or a rung of the precision ladder (``precision``: ``fp32``, ``bf16``, ``int8``, ``auto``;
``model/runtime/precision.py``) on OpenVINO or ONNX Runtime. Every command, the service, batch workers and
the Python API load through ``load_stance``; ``presslens prepare`` climbs the same ladder with every rung
gated in this process first (``prepare_ladder``). A missing export or gate verdict is made in a child process
(``model/runtime/children.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..encoder import Encoder, ModelLoadError
from ..stance import StanceModel, check_safe_checkpoint, encoder_sources, read_config, torch_encoder

if TYPE_CHECKING:
    from .gate import DevSet


def stance_encoder(directory: str | os.PathLike, *, runtime: str = "torch", precision: str = "fp32",
                   threads: int | None = None, device: str | None = None, offered: Encoder | None = None):
    """The encoder a stance checkpoint is served with. ``offered``: an encoder already loaded, reused where
    it is the one needed (a reload); ``threads``: the exported runtime's threads (default: the settings')."""
    path = Path(directory)
    config = read_config(path)
    check_safe_checkpoint(path)

    def build() -> Encoder:
        return torch_encoder(config, path, device, offered)

    if runtime == "torch":
        return build()
    from .children import export_in_subprocess, gate_in_subprocess
    from .onnx import choose_runtime

    def fp32():
        return choose_runtime(runtime, lambda: encoder_sources(config, path), build,
                              export=lambda out: export_in_subprocess(path, out), threads=threads)

    if precision == "fp32":
        return fp32()
    from .precision import climb

    return climb(precision, path, lambda: encoder_sources(config, path), fp32,
                 gate=lambda p: gate_in_subprocess(path, p), threads=threads)


def load_stance(directory: str | os.PathLike, *, runtime: str = "torch", precision: str = "fp32",
                threads: int | None = None, device: str | None = None,
                offered: Encoder | None = None) -> StanceModel:
    """A stance checkpoint with the encoder ``stance_encoder`` chose for it."""
    encoder = stance_encoder(directory, runtime=runtime, precision=precision, threads=threads, device=device,
                             offered=offered)
    return StanceModel.from_pretrained(directory, encoder=encoder, device=device)


def prepare_ladder(stance_dir: str | os.PathLike, requested: str, dev: DevSet | None = None,
                   say: Callable[[str], object] = print) -> dict:
    """Gate the rungs ``requested`` tries on this CPU, top first, down to the first that passes (``say``-ing
    one line per rung), then load the checkpoint as a server would; its ``precision_choice`` comes back."""
    from .gate import summary
    from .precision import cpu_info, plan
    from .prepare import prepare_and_gate

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
