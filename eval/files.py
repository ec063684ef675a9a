"""Report files that are deterministic and atomic: ``metrics.json``, other JSON, text, per-item CSV.

``metrics.json`` (:func:`write_metrics`) has sorted keys, floats rounded to a fixed number of digits, no
timestamps and NaN written as null, so the same command run twice gives a byte-identical file. Every file
is written to a temporary sibling and renamed into place, so an interrupted run never leaves a
half-written report that looks complete.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from presslens.model.io import (
    atomic_write,  # the one atomic-write helper; reports are durable files like any other
)

DIGITS = 4


def canonical(obj: Any, digits: int = DIGITS) -> Any:
    """A JSON-ready copy of ``obj``: floats rounded to ``digits``, numpy types unwrapped, NaN/inf -> None.

    Keys become strings; tuples and arrays become lists; dataclasses become dicts; paths become strings.
    """
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            return None
        x = round(x, digits)
        return 0.0 if x == 0 else x  # no "-0.0"
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist(), digits)
    if isinstance(obj, Mapping):
        return {str(k): canonical(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v, digits) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return canonical(asdict(obj), digits)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot put a {type(obj).__name__} into metrics.json")


def dumps(obj: Any, digits: int = DIGITS) -> str:
    """Deterministic JSON text: canonical values, sorted keys, 2-space indent, trailing newline."""
    return json.dumps(canonical(obj, digits), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def write_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any], digits: int = DIGITS,
                  name: str = "metrics.json") -> Path:
    """Write ``metrics`` to ``out_dir/metrics.json`` deterministically (see :func:`dumps`)."""
    return atomic_write(Path(out_dir) / name, dumps(metrics, digits).encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, digits: int = 6) -> Path:
    """Any JSON file written the same canonical way (used for run.json and bench.json)."""
    return atomic_write(Path(path), dumps(obj, digits).encode("utf-8"))


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(Path(path), (text if text.endswith("\n") else text + "\n").encode("utf-8"))


def _cell(value: Any, digits: int) -> Any:
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return "" if not math.isfinite(x) else f"{x:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "" if value is None else value


def write_predictions_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
                          columns: Sequence[str] | None = None, digits: int = DIGITS) -> Path:
    """Per-item predictions for error analysis, one row per item, columns in a fixed order.

    ``columns`` defaults to the keys of the first row in their order; floats are written with ``digits``
    decimals and lists as space-separated values, so the file is as reproducible as metrics.json.
    """
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c), digits) for c in columns})
    return atomic_write(Path(path), buf.getvalue().encode("utf-8"))
