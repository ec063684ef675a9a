"""The model layer's error types, on the lowest floor so every module can raise them without importing the
module that loads models (``model.encoder`` re-exports ``ModelLoadError``, where most callers look for it)."""

from __future__ import annotations

import sys
from collections.abc import Callable


class ModelLoadError(RuntimeError):
    """A model reference could not be resolved or loaded; the message says why in one line."""


def exit_status(work: Callable[[], object], prog: str = "presslens") -> int:
    """A command's exit status: 0 when ``work()`` ran; 2, with its one-line ``ModelLoadError`` on stderr, when
    it could not (the child processes' mains, whose last line the parent reports)."""
    try:
        work()
    except ModelLoadError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0
