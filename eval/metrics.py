"""Metric functions shared by the eval commands: classification, calibration and ROUGE.

Everything here is plain numpy over arrays a caller already holds, fast enough to be called a thousand
times inside a bootstrap. Labels are the strings ``neutral`` and ``editorial``; binary arrays use 1 for
``editorial`` (the positive class).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from presslens.training.rouge import ROUGE_TYPES, best_reference_rouge  # noqa: F401 - ROUGE_TYPES re-exported

LABELS: tuple[str, str] = ("neutral", "editorial")
POSITIVE = "editorial"


def _codes(values: Sequence[str] | np.ndarray, labels: Sequence[str]) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(labels)}
    try:
        return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of {list(labels)}") from None


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str],
                     labels: Sequence[str] = LABELS) -> np.ndarray:
    """(n_labels, n_labels) counts; rows are true labels, columns predicted, in the order of ``labels``."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items, y_pred {len(y_pred)}")
    k = len(labels)
    t, p = _codes(y_true, labels), _codes(y_pred, labels)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _prf(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Per-label precision, recall, F1 (scikit-learn; a class never predicted or absent scores 0)."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(list(y_true), list(y_pred), labels=list(labels),
                                                               zero_division=0)
    return precision, recall, f1


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS) -> float:
    """Unweighted mean F1 over ``labels`` (the CheckThat official metric for SUBJ/OBJ)."""
    confusion_matrix(y_true, y_pred, labels)  # same checks as before: equal lengths, known labels
    return float(_prf(y_true, y_pred, labels)[2].mean())


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    if len(y_true) == 0:
        return 0.0
    return float(np.mean(np.asarray(y_true, dtype=object) == np.asarray(y_pred, dtype=object)))


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str] = LABELS) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, labels)
    precision, recall, f1 = _prf(y_true, y_pred, labels)
    per_class = {
        lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
              "support": int(cm[i].sum())}
        for i, lab in enumerate(labels)
    }
    return {
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
        "confusion": cm.tolist(),
        "labels": list(labels),
        "n": int(cm.sum()),
    }


def reliability_bins(y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray,
                     n_bins: int = 10) -> list[dict]:
    """Equal-width bins over P(positive): count, mean predicted probability and observed positive rate.

    Empty bins are left out. ``y_true`` is 0/1 (1 = editorial).
    """
    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    if y.shape != p.shape:
        raise ValueError(f"y_true has shape {y.shape}, prob {p.shape}")
    # Bin i holds [i/n, (i+1)/n); probability 1.0 goes to the last bin.
    which = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = which == b
        n = int(mask.sum())
        if n:
            out.append({"bin": b, "lower": b / n_bins, "upper": (b + 1) / n_bins, "count": n,
                        "mean_prob": float(p[mask].mean()), "positive_rate": float(y[mask].mean())})
    return out


def expected_calibration_error(y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray,
                               n_bins: int = 10) -> float:
    """ECE over equal-width bins of P(positive): sum of |positive rate - mean prob| weighted by bin share."""
    bins = reliability_bins(y_true, prob, n_bins)
    total = sum(b["count"] for b in bins)
    if not total:
        return 0.0
    return float(sum(b["count"] * abs(b["positive_rate"] - b["mean_prob"]) for b in bins) / total)


def brier_score(y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray) -> float:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(y) else 0.0


def binary(labels: Sequence[str], positive: str = POSITIVE) -> np.ndarray:
    """0/1 array with 1 where the label is ``positive`` (default ``editorial``)."""
    return np.fromiter((lab == positive for lab in labels), dtype=np.int64, count=len(labels))


# --------------------------------------------------------------------------------------------- ROUGE


def split_sentences(text: str) -> list[str]:
    """Sentences of a reference summary, with the same pysbd segmenter presslens uses for articles."""
    from presslens.model.text import sentence_segmenter

    out = []
    for para in text.split("\n"):
        para = para.strip()
        if para:
            out.extend(s.strip() for s in sentence_segmenter().segment(para) if s.strip())
    return out


def rouge(summary: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/Lsum F-measure x100 of a summary (a list of sentences) against its best reference.

    rougeLsum is computed over newline-joined sentences (references are split with :func:`split_sentences`),
    which is the summary-level ROUGE-L papers report; plain rougeL reads ~10 points lower. With several
    references each ROUGE type takes its best-matching reference (``RougeScorer.score_multi``).
    """
    refs = [r for r in references if r and r.strip()]
    if not refs:
        raise ValueError("rouge needs at least one non-empty reference")
    prediction = "\n".join(s.strip() for s in summary if s and s.strip())
    targets = ["\n".join(split_sentences(r)) for r in refs]
    return best_reference_rouge(prediction, targets)


# ----------------------------------------------------------------------------------------- coherence


def dangling_openers(articles: Sequence, picked: Sequence[tuple[int, int]]) -> list[bool]:
    """Per summary sentence, whether its opening pronoun or connective has its referent outside the summary.

    ``articles`` are ``model.text.Article`` objects; ``picked`` the summary as (article number, sentence index)
    pairs. The rule is the one the selector follows, ``model.coherence`` (a sentence opening with He, This,
    But, ... dangles unless the article sentence before it is in the summary or, for a pronoun, the names of
    its nearest named predecessor appear earlier in the summary; the first body sentence never dangles).
    """
    from presslens.model.coherence import Context
    from presslens.model.summarizer import body_indices

    bodies = {j: body_indices(articles[j]) for j in {j for j, _ in picked}}
    contexts = {j: Context.of([articles[j].sentences[i].text for i in body]) for j, body in bodies.items()}
    positions = [(j, bodies[j].index(i)) for j, i in picked]
    selected: dict[int, set[int]] = {}
    for j, p in positions:
        selected.setdefault(j, set()).add(p)
    return [contexts[j].dangling(p, selected[j]) for j, p in positions]
