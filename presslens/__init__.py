"""presslens: condense news articles into key claims and tell straight reporting from commentary.

The Python API (``presslens/library.py``)::

    import presslens

    analyzer = presslens.load("default")           # or "accurate", or a checkpoint directory
    result = analyzer.analyze("Officials met in London on Friday. ...")
    result.stance.label, result.to_dict()         # to_dict(): the object `presslens analyze` prints
    presslens.to_pandas(analyzer.analyze(texts), level="sentence")

``import presslens`` stays light: torch, transformers and the models load only when ``load`` is called.
The installed packages live under this name too: ``presslens.model``, ``presslens.api``,
``presslens.training``, ``presslens.eval``.
"""

from __future__ import annotations

__all__ = ["Analyzer", "IntakeError", "ModelLoadError", "SentenceLabel", "load", "to_pandas"]

#: where each public name lives, imported on first use
_HOMES = {"IntakeError": "presslens.model.intake", "ModelLoadError": "presslens.model.errors"}


def __getattr__(name: str):
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(_HOMES.get(name, "presslens.library")), name)
    raise AttributeError(f"module 'presslens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
