"""Choices made on dev data: macro-F1 (plain and label-prior weighted), the sentence threshold, a
stratified dev hold-out when no dev file is given."""

from __future__ import annotations

import numpy as np
from transformers import set_seed  # noqa: F401 - random, numpy and torch in one call; re-exported

from .data import LabelledSentences


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Macro-F1 over the two classes 0/1 (scikit-learn; a class never predicted or absent scores 0)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=[0, 1], average="macro", sample_weight=sample_weight,
                          zero_division=0))


def prior_weights(y: np.ndarray, prior: float | None) -> np.ndarray | None:
    """Per-example weights that make the positives ``prior`` of the total (None: no reweighting)."""
    y = np.asarray(y)
    share = float(y.mean()) if len(y) else 0.0
    if prior is None or not 0.0 < share < 1.0 or not 0.0 < prior < 1.0:
        return None
    return np.where(y == 1, prior / share, (1.0 - prior) / (1.0 - share))


def weighted_macro_f1(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> float:
    """Macro-F1 over the two classes, each example counted with weight ``w`` (None: plain macro-F1)."""
    return macro_f1(y, pred, sample_weight=w)


def best_threshold(y: np.ndarray, p: np.ndarray, prior: float | None = None) -> tuple[float, float]:
    """The threshold in [0.2, 0.8] with the highest macro-F1 (ties: closest to 0.5).

    ``prior``: score the dev examples as if ``prior`` of them were editorial (the training data's share),
    so a dev split with an unusual label balance does not drag the threshold with it.
    """
    y = np.asarray(y)
    w = prior_weights(y, prior)
    best = (0.5, weighted_macro_f1(y, (p >= 0.5).astype(int), w))
    for t in (round(0.2 + 0.01 * i, 2) for i in range(61)):
        # evaluate at the rounded value that is stored, so the saved threshold reproduces the score
        f = weighted_macro_f1(y, (p >= t).astype(int), w)
        if f > best[1] + 1e-9 or (abs(f - best[1]) <= 1e-9 and abs(t - 0.5) < abs(best[0] - 0.5)):
            best = (float(round(t, 2)), f)
    return best


def split_dev(data: LabelledSentences, fraction: float, seed: int) -> tuple[LabelledSentences, LabelledSentences]:
    """A stratified, seeded hold-out of ``fraction`` of each label."""
    rng = np.random.default_rng(seed)
    dev_idx: set[int] = set()
    for label in ("neutral", "editorial"):
        idx = [i for i, lbl in enumerate(data.labels) if lbl == label]
        k = int(round(fraction * len(idx)))
        if 0 < k < len(idx):
            dev_idx.update(int(i) for i in rng.choice(idx, size=k, replace=False))
    keep = [i for i in range(len(data)) if i not in dev_idx]
    pick = sorted(dev_idx)
    return (LabelledSentences([data.texts[i] for i in keep], [data.labels[i] for i in keep], data.source),
            LabelledSentences([data.texts[i] for i in pick], [data.labels[i] for i in pick], data.source + " (held out)"))
