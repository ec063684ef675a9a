"""Bootstrap statistics with a fixed seed, so reruns agree: a 95% percentile interval and a paired test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_SEED = 0
N_RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


@dataclass(frozen=True)
class PairedResult:
    """System A minus system B on the same bootstrap resamples."""

    delta: float
    low: float
    high: float
    p_value: float
    n_resamples: int

    def to_dict(self) -> dict[str, float]:
        return {"delta": self.delta, "ci_low": self.low, "ci_high": self.high, "p_value": self.p_value,
                "n_resamples": self.n_resamples}


def _columns(cols: Sequence[Any]) -> tuple[list[np.ndarray], int]:
    arrays = [np.asarray(c) if not isinstance(c, np.ndarray) else c for c in cols]
    if not arrays:
        raise ValueError("need at least one column to resample")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"columns differ in length: {[len(a) for a in arrays]}")
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample")
    return arrays, n


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(n_resamples, n) indices drawn with replacement from a generator seeded with ``seed``."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_ci(metric: Callable[..., float], *columns: Sequence[Any], n_resamples: int = N_RESAMPLES,
                 confidence: float = 0.95, seed: int = DEFAULT_SEED) -> Interval:
    """Percentile bootstrap interval of ``metric(*columns)``, resampling items (rows) with replacement.

    ``columns`` are equally long per-item arrays resampled together, e.g. ``bootstrap_ci(macro_f1, y_true,
    y_pred)`` or ``bootstrap_ci(np.mean, rouge1_per_article)``. The same ``seed`` gives the same interval.
    """
    arrays, n = _columns(columns)
    value = float(metric(*arrays))
    stats = np.array([metric(*(a[idx] for a in arrays)) for idx in resample_indices(n, n_resamples, seed)],
                     dtype=float)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Interval(value, float(low), float(high))


def paired_bootstrap(metric: Callable[..., float], columns_a: Sequence[Any], columns_b: Sequence[Any], *,
                     n_resamples: int = N_RESAMPLES, confidence: float = 0.95,
                     seed: int = DEFAULT_SEED) -> PairedResult:
    """Paired bootstrap of ``metric(*columns_a) - metric(*columns_b)`` over the same items.

    Both systems are scored on the same resampled items in each round, so the interval is on the
    difference itself (not two overlapping intervals). For stance: ``paired_bootstrap(macro_f1,
    (y_true, pred_a), (y_true, pred_b))``; for ROUGE: ``paired_bootstrap(np.mean, (r_a,), (r_b,))``.
    ``p_value`` is two-sided: twice the share of resamples on the other side of zero from the observed
    difference (capped at 1), i.e. how often chance alone would flip the sign of the comparison.
    """
    arrays_a, n = _columns(columns_a)
    arrays_b, n_b = _columns(columns_b)
    if n != n_b:
        raise ValueError(f"systems were scored on different item counts: {n} vs {n_b}")
    delta = float(metric(*arrays_a) - metric(*arrays_b))
    deltas = np.empty(n_resamples, dtype=float)
    for r, idx in enumerate(resample_indices(n, n_resamples, seed)):
        deltas[r] = metric(*(a[idx] for a in arrays_a)) - metric(*(b[idx] for b in arrays_b))
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    if delta > 0:
        p = 2 * float(np.mean(deltas <= 0))
    elif delta < 0:
        p = 2 * float(np.mean(deltas >= 0))
    else:
        p = 1.0
    return PairedResult(delta, float(low), float(high), min(1.0, p), n_resamples)
