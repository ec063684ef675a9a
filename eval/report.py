"""The report layer of ``presslens eval`` and ``presslens bench``: one call per eval command writes a report.

What every report directory gets, and where each part lives:

* ``metrics.json`` -- :func:`eval.files.write_metrics`: deterministic (sorted keys, floats rounded to a fixed
  number of digits, no timestamps, NaN written as null), so the same command run twice gives a byte-identical
  file. Put nothing run-dependent (durations, paths of temp dirs, dates) in it; that goes to ``run.json``.
* ``run.json`` -- :func:`eval.provenance.write_run_info`: git commit, package versions, sha256 of every data
  file, seed, duration, machine.
* ``report.md`` -- :func:`eval.files.write_text` with tables from :mod:`eval.tables`.
* per-item predictions -- :func:`eval.files.write_predictions_csv`.
* statistics -- :mod:`eval.bootstrap`: :func:`bootstrap_ci` (95% percentile interval) and
  :func:`paired_bootstrap` (difference of two systems on the same resamples, with a p-value), both with a
  fixed seed so reruns agree.
* plots (PNG, matplotlib Agg) -- :mod:`eval.plots`.

This module keeps the whole-report writers (:func:`write_stance_report`, :func:`write_summary_report`) and
re-exports the parts' public names, so ``from eval import report; report.write_metrics(...)`` keeps working.
Every file is written to a temporary sibling and renamed into place, so an interrupted run never leaves a
half-written report that looks complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The report layer's parts live in their own modules; these names stay importable from eval.report.
from .bootstrap import (  # noqa: F401
    DEFAULT_SEED,
    N_RESAMPLES,
    Interval,
    PairedResult,
    bootstrap_ci,
    paired_bootstrap,
    resample_indices,
)
from .files import (  # noqa: F401
    DIGITS,
    canonical,
    dumps,
    write_json,
    write_metrics,
    write_predictions_csv,
    write_text,
)
from .plots import (  # noqa: F401
    plot_confusion_matrix,
    plot_reliability_diagram,
    plot_rouge_bars,
    plot_system_bars,
    plot_throughput,
)
from .provenance import (  # noqa: F401
    PACKAGES,
    REPO_ROOT,
    data_fingerprint,
    git_info,
    machine_info,
    package_versions,
    sha256_file,
    write_run_info,
)
from .tables import (  # noqa: F401
    classifier_table_md,
    coherence_counts,
    coherence_md,
    compare_classifiers,
    compare_summarizers,
    fmt_ci,
    markdown_table,
    paired_sentence,
    rouge_plot_input,
    summarizer_table_md,
)

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
                         baselines: Sequence[str] | None = None,
                         dangling: Mapping[str, Sequence[Sequence[bool]]] | None = None) -> dict[str, Any]:
    """metrics.json, report.md, predictions.csv (per document and system: ROUGE and the summary) and
    rouge.png for a summary eval. ``scores[system]`` is one :func:`eval.metrics.rouge` dict per document;
    ``summaries[system]`` the selected sentences per document (optional); ``dangling[system]`` per document
    one flag per summary sentence (:func:`eval.metrics.dangling_openers`; optional). Returns the metrics
    written."""
    from presslens.training.rouge import ROUGE_TYPES

    out = Path(out_dir)
    result = compare_summarizers(scores, primary, ceilings=ceilings, n_resamples=n_resamples, seed=seed,
                                 baselines=baselines)
    metrics = dict(result)
    counts = coherence_counts(dangling) if dangling is not None else None
    if counts is not None:
        metrics["coherence"] = counts
    if extra:
        metrics["run"] = dict(extra)
    write_metrics(out, metrics)

    rows = []
    for i, ident in enumerate(doc_ids):
        for name in scores:
            row: dict[str, Any] = {"doc_id": ident, "system": name,
                                   **{t: float(scores[name][i][t]) for t in ROUGE_TYPES}}
            if dangling is not None and name in dangling:
                row |= {"sentences": len(dangling[name][i]), "dangling": int(sum(dangling[name][i]))}
            if summaries is not None and name in summaries:
                row["summary"] = "\n".join(summaries[name][i])
            rows.append(row)
    columns = ["doc_id", "system", *ROUGE_TYPES] + (["sentences", "dangling"] if dangling is not None else []) \
        + (["summary"] if summaries is not None else [])
    write_predictions_csv(out / "predictions.csv", rows, columns)
    plot_rouge_bars(rouge_plot_input(result), out / "rouge.png",
                    title=f"ROUGE F1 by system, n={result['n']} (95% bootstrap CI)")
    md = [f"# {title}", "", f"{result['n']} documents. {result['rouge']}. Intervals: 95% percentile bootstrap "
          f"over documents ({n_resamples} resamples, seed {seed}).", ""]
    if extra:
        md += [markdown_table(["setting", "value"], [[k, v] for k, v in sorted(extra.items())]), ""]
    md += [summarizer_table_md(result), "![ROUGE by system](rouge.png)", ""]
    if counts is not None:
        md += [coherence_md(counts, dangling, summaries, doc_ids, primary), ""]
    md += ["Per-document scores and summaries of every system: `predictions.csv`."]
    write_text(out / "report.md", "\n".join(md))
    return metrics
