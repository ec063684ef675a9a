"""The one loader that hands a stance model its runtime and precision.

``StanceModel.from_pretrained`` reads a checkpoint around the encoder it is given; this module chooses that
encoder: the torch reference, an ONNX Runtime export of the same weights (``runtime``: ``torch``, ``onnx``,
``auto``), or a rung of the precision ladder (``precision``: ``fp32``, ``bf16``, ``int8``, ``auto``;
``model/runtime/precision.py``) on OpenVINO or ONNX Runtime. Every command, the service, batch workers and
the Python API load through ``load_stance``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..encoder import Encoder
from ..stance import StanceModel, check_safe_checkpoint, encoder_sources, read_config, torch_encoder


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
    from .onnx import choose_runtime, export_in_subprocess

    def fp32():
        return choose_runtime(runtime, lambda: encoder_sources(config, path), build,
                              export=lambda out: export_in_subprocess(path, out), threads=threads)

    if precision == "fp32":
        return fp32()
    from .precision import climb

    return climb(precision, path, lambda: encoder_sources(config, path), fp32, threads=threads)


def load_stance(directory: str | os.PathLike, *, runtime: str = "torch", precision: str = "fp32",
                threads: int | None = None, device: str | None = None,
                offered: Encoder | None = None) -> StanceModel:
    """A stance checkpoint with the encoder ``stance_encoder`` chose for it."""
    encoder = stance_encoder(directory, runtime=runtime, precision=precision, threads=threads, device=device,
                             offered=offered)
    return StanceModel.from_pretrained(directory, encoder=encoder, device=device)
