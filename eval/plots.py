"""Report plots (PNG, matplotlib Agg), byte-identical for the same inputs: confusion matrix, reliability
diagram, per-system bars with CIs, throughput."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .bootstrap import Interval
from .files import atomic_write

# One colour per system across every plot of a report, so "tfidf_lr" is the same colour everywhere.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    # No creation date in the PNG metadata: reruns produce the same bytes.
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return atomic_write(Path(path), buf.getvalue())


def plot_confusion_matrix(matrix: Sequence[Sequence[int]] | np.ndarray, labels: Sequence[str],
                          path: str | os.PathLike, title: str = "Confusion matrix") -> Path:
    """Counts with row percentages (recall per true class); rows true labels, columns predicted."""
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=float)
    rows = cm.sum(1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n({share[i, j]:.0%})", ha="center", va="center", fontsize=11,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    return _save(fig, path)


def plot_reliability_diagram(y_true: Sequence[int] | np.ndarray, probs: Mapping[str, Sequence[float]],
                             path: str | os.PathLike, n_bins: int = 10,
                             title: str = "Reliability diagram", positive: str = "editorial") -> Path:
    """Observed share of ``positive`` per bin of predicted P(``positive``), one line per system, with ECE
    in the legend and a histogram of how many items fall in each bin below."""
    from .metrics import expected_calibration_error, reliability_bins

    plt = _pyplot()
    fig, (ax, hx) = plt.subplots(2, 1, figsize=(5.6, 6.4), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08})
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    width = 1.0 / n_bins / max(1, len(probs))
    for k, (name, p) in enumerate(probs.items()):
        color = _PALETTE[k % len(_PALETTE)]
        bins = reliability_bins(y_true, p, n_bins)
        ece = expected_calibration_error(y_true, p, n_bins)
        ax.plot([b["mean_prob"] for b in bins], [b["positive_rate"] for b in bins], "o-", color=color,
                label=f"{name} (ECE {ece:.3f})")
        hx.bar([b["lower"] + (k + 0.5) * width for b in bins], [b["count"] for b in bins], width=width,
               color=color, alpha=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"observed share {positive}")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    hx.set_xlabel(f"predicted P({positive})")
    hx.set_ylabel("items")
    hx.grid(alpha=0.3)
    return _save(fig, path)


def plot_system_bars(scores: Mapping[str, Mapping[str, Sequence[float] | Interval | float]],
                     path: str | os.PathLike, metrics: Sequence[str] | None = None,
                     ylabel: str = "score", title: str = "Systems compared") -> Path:
    """Grouped bars: one group per metric, one bar per system, 95% CI whiskers when given.

    ``scores[system][metric]`` is a float, an :class:`Interval`, or ``(value, low, high)``.
    """
    plt = _pyplot()
    systems = list(scores)
    metrics = list(metrics or next(iter(scores.values())).keys())

    def triple(v) -> tuple[float, float, float]:
        if isinstance(v, Interval):
            return v.value, v.low, v.high
        if isinstance(v, (list, tuple)):
            return float(v[0]), float(v[1]), float(v[2])
        return float(v), float(v), float(v)

    fig, ax = plt.subplots(figsize=(max(5.5, 1.6 * len(metrics) * max(1, len(systems)) / 2), 4.2))
    width = 0.8 / max(1, len(systems))
    top = 0.0
    bar_tops: list[tuple[float, float, float]] = []
    for k, system in enumerate(systems):
        vals = [triple(scores[system][m]) for m in metrics]
        xs = np.arange(len(metrics)) - 0.4 + (k + 0.5) * width
        heights = [v[0] for v in vals]
        err = np.array([[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]])
        ax.bar(xs, heights, width=width * 0.95, color=_PALETTE[k % len(_PALETTE)], label=system,
               yerr=err, capsize=3, error_kw={"lw": 1})
        top = max(top, max(v[2] for v in vals))
        bar_tops.extend((x, h, v[2]) for x, h, v in zip(xs, heights, vals, strict=True))
    for x, h, high in bar_tops:
        # Above the whisker, so the number never sits on the error bar.
        ax.text(x, high + 0.012 * top, f"{h:.1f}" if abs(h) >= 10 else f"{h:.2f}", ha="center",
                va="bottom", fontsize=7)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("metric")
    ax.set_title(title)
    ax.set_ylim(0, top * 1.3 if top > 0 else 1)  # headroom for the legend
    ax.legend(fontsize=8, ncol=min(3, len(systems)), loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_rouge_bars(scores: Mapping[str, Mapping[str, Sequence[float] | Interval | float]],
                    path: str | os.PathLike, title: str = "ROUGE by system (95% bootstrap CI)") -> Path:
    """Per-system ROUGE-1/2/Lsum F1 x100 bars (see :func:`plot_system_bars`)."""
    from presslens.training.rouge import ROUGE_TYPES

    metrics = [m for m in ROUGE_TYPES if m in next(iter(scores.values()))]
    return plot_system_bars(scores, path, metrics=metrics, ylabel="F1 x 100", title=title)


def plot_throughput(concurrency: Sequence[int], series: Mapping[str, Sequence[float]],
                    path: str | os.PathLike, latency_p95_ms: Mapping[str, Sequence[float]] | None = None,
                    floor: float | None = None, title: str = "Throughput vs concurrency") -> Path:
    """Articles/s against client concurrency per system (log-2 x axis); p95 latency in a second panel when
    given; the compute floor as a horizontal line when given."""
    plt = _pyplot()
    two = bool(latency_p95_ms)
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(10.5 if two else 5.6, 4.2))
    ax = axes[0] if two else axes
    for k, (name, ys) in enumerate(series.items()):
        ax.plot(concurrency, ys, "o-", color=_PALETTE[k % len(_PALETTE)], label=name)
    if floor:
        ax.axhline(floor, ls="--", color="grey", lw=1, label=f"compute floor ({floor:.1f}/s)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(concurrency), [str(c) for c in concurrency])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("articles / s")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if two:
        lx = axes[1]
        for k, (name, ys) in enumerate(latency_p95_ms.items()):
            lx.plot(concurrency, ys, "s-", color=_PALETTE[k % len(_PALETTE)], label=name)
        lx.set_xscale("log", base=2)
        lx.set_yscale("log")
        lx.set_xticks(list(concurrency), [str(c) for c in concurrency])
        lx.set_xlabel("concurrent clients")
        lx.set_ylabel("p95 latency per request (ms, log scale)")
        lx.set_title("Tail latency vs concurrency")
        lx.grid(alpha=0.3, which="both")
        lx.legend(fontsize=8)
    return _save(fig, path)


def plot_rss_over_time(samples: Sequence[tuple[float, float]], path: str | os.PathLike, *, baseline_at: float,
                       limit_mib: float | None = None, marks: Sequence[float] = (), mark_label: str = "event",
                       title: str = "Server RSS over time") -> Path:
    """RSS (MiB) against seconds; a dotted line where the baseline is taken, the limit dashed, events marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([t for t, _ in samples], [m for _, m in samples], color=_PALETTE[0], label="server RSS")
    ax.axvline(baseline_at, color="grey", linestyle=":", label="end of warm-up (baseline)")
    if limit_mib:
        ax.axhline(limit_mib, color="tab:red", linestyle="--", label=f"limit ({limit_mib:.0f} MiB)")
    for i, t in enumerate(marks):
        ax.axvline(t, color="tab:orange", alpha=0.5, label=mark_label if i == 0 else None)
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
