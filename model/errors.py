"""The model layer's error types, on the lowest floor so every module can raise them without importing the
module that loads models (``model.encoder`` re-exports ``ModelLoadError``, where most callers look for it)."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model reference could not be resolved or loaded; the message says why in one line."""
