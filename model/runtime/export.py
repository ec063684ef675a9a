"""``python -m presslens.model.runtime.export STANCE_DIR OUT_DIR``: export a stance checkpoint's encoder for ONNX Runtime.

The child process ``model.runtime.children.export_in_subprocess`` runs, so an export's memory goes back with
its process. It sits above both ``model.stance`` (which loads the checkpoint) and ``model.runtime.onnx``
(which exports), so neither of those imports the other for it, and nothing it imports launches it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import exit_status
from ..stance import StanceModel
from .onnx import export_encoder


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m presslens.model.runtime.export",
                                 description="export a stance checkpoint's encoder to OUT_DIR")
    ap.add_argument("stance_dir")
    ap.add_argument("out_dir")
    ns = ap.parse_args(argv)
    return exit_status(lambda: export_encoder(StanceModel.from_pretrained(ns.stance_dir).encoder, ns.out_dir))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
