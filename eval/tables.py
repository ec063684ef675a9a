"""Markdown for reports: tables, intervals, and the comparison of systems on the same items
(classifiers by macro-F1 and friends, summarizers by ROUGE), each with bootstrap CIs and a paired test."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .bootstrap import DEFAULT_SEED, N_RESAMPLES, bootstrap_ci, paired_bootstrap


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
    from presslens.training.rouge import ROUGE_TYPES

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
    from presslens.training.rouge import ROUGE_TYPES

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


def coherence_counts(dangling: Mapping[str, Sequence[Sequence[bool]]]) -> dict[str, dict[str, Any]]:
    """Per system: summary sentences, how many dangle (``eval.metrics.dangling_openers``) and their share."""
    out = {}
    for name, docs in dangling.items():
        n = sum(len(d) for d in docs)
        k = sum(sum(d) for d in docs)
        out[name] = {"sentences": n, "dangling": k, "dangling_share": round(k / n, 4) if n else 0.0}
    return out


def coherence_md(counts: Mapping[str, Mapping[str, Any]], dangling: Mapping[str, Sequence[Sequence[bool]]],
                 summaries: Mapping[str, Sequence[Sequence[str]]] | None, doc_ids: Sequence[str],
                 primary: str, examples: int = 3) -> str:
    """The dangling-opener table and, per system, a few of its dangling sentences."""
    order = [primary] + sorted(s for s in counts if s != primary)
    rows = [[f"**{s}**" if s == primary else s, counts[s]["sentences"], counts[s]["dangling"],
             f"{100 * counts[s]['dangling_share']:.1f}%"] for s in order]
    md = ["## Readable alone", "",
          "Summary sentences whose opening pronoun or connective (He, His, This, But, However, Also, ...) has its "
          "referent outside the summary: the article sentence before it is not selected and, for a pronoun, no "
          "name of its nearest named predecessor appears earlier in the summary (`model/coherence.py`).", "",
          markdown_table(["system", "summary sentences", "dangling", "share"], rows)]
    if summaries is None:
        return "\n".join(md)
    for s in order:
        found = [(doc_ids[d], summaries[s][d][k]) for d, flags in enumerate(dangling[s])
                 for k, bad in enumerate(flags) if bad][:examples]
        if found:
            md += ["", f"Examples, {s}:", ""] + [f"- `{ident}`: {text}" for ident, text in found]
    return "\n".join(md)
