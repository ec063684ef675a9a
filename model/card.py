"""The stance checkpoint's model card (README.md): recipe, data, licences, cross-validation and metrics."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any


def _threshold_origin(metrics: dict) -> str:
    if "cv" in metrics:
        how = f"chosen by {metrics['cv']['folds']}-fold cross-validation for an editorial share of {metrics['cv']['prior']}"
        return how + (", after the feature stacker" if (metrics.get("stacking") or {}).get("groups") else "")
    prior = (metrics.get("dev") or {}).get("threshold_prior")
    return "chosen on dev data" + (", weighted to the training data's label balance" if prior == "train" else
                                   f", weighted to an editorial share of {prior}" if prior not in (None, "dev") else "")


def _cosine_lines(config: Any) -> list[str]:
    links = (getattr(config, "calibration", None) or {}).get("links")
    how = f"chosen on {links['data']}" if links else "hand-set default, not calibrated"
    return [f"- claim-link cosine (coverage view): {config.link_threshold:.2f} ({how})",
            f"- summary support cosine (summarizer's support feature): {config.support_threshold:.2f} ({how})"]


def model_card(config: Any) -> str:
    """The card of a ``model.stance.StanceConfig`` (taken untyped: this module sits below model.stance)."""
    t = config.training or {}
    lines = [
        "# presslens stance model",
        "",
        "Tells the writer's own commentary (`editorial`) from straight reporting (`neutral`), sentence by",
        "sentence; the article label follows the documented rule in `model/stance.py`.",
        "",
        f"- encoder: `{config.encoder}` (mode: {config.mode}"
        + (f", top {config.train_layers} layers fine-tuned" if config.mode == "partial" else "") + ")",
        f"- head: {'linear' if not config.hidden else f'MLP, hidden {config.hidden}'} over mean-pooled embeddings",
        f"- sentence threshold: {config.threshold:.3f} ({_threshold_origin(t.get('metrics') or {})})",
        f"- in-article commentary threshold: {config.commentary_threshold if config.commentary_threshold is not None else config.threshold:.3f}"
        " (calibrated on straight news)",
        f"- article rule: {json.dumps(asdict(config.article_rule), sort_keys=True)}",
        f"- writer-voice rule (`model/voice.py`): {'on' if config.voice_rules else 'off'}",
        *_cosine_lines(config),
    ]
    cal = getattr(config, "calibration", None) or {}
    if cal:
        lines += ["", "## Calibrated constants (`presslens calibrate`)", ""]
        links = cal.get("links")
        if links:
            lines += [f"Cosines chosen on {links.get('data')} ({links.get('chosen_on')}; {links.get('reported_on')} "
                      "only reported):", "", "| constant | value | positive pairs | precision (test) | recall (test) | "
                      "F1 (train+dev) |", "|---|---|---|---|---|---|"]
            lines += [f"| {k} | {r['value']:.2f} | {r['positive']} | {r['test']['precision']:.4f} | "
                      f"{r['test']['recall']:.4f} | {r['train+dev']['f1']:.4f} |"
                      for k, r in sorted(links.items()) if isinstance(r, dict) and "test" in r]
        arts = cal.get("articles")
        if arts and "basil_fer_heldout" in arts:
            lines += ["", f"In-article threshold {arts['commentary_threshold']:.2f} and article rule (min_share "
                      f"{arts['min_share']:.2f}) chosen on {arts['data']}, {arts['n_articles']} reports, with the "
                      f"commentary decision as served (writer-voice rule {'on' if arts.get('voice_rules') else 'off'}): "
                      f"false-editorial rate {arts['basil_fer_calib']:.4f} there, {arts['basil_fer_heldout']:.4f} on "
                      "the held-out half."]
    if t.get("data"):
        lines += ["", "## Training data", ""]
        lines += [f"- {d}" for d in t["data"]]
    if t.get("licences"):
        lines += ["", "## Licences", ""] + [f"- {x}" for x in t["licences"]]
    cv = (t.get("metrics") or {}).get("cv")
    if cv:
        lines += ["", f"## Cross-validation ({cv['folds']} folds over the training data)", "",
                  f"Out-of-fold macro-F1 per epoch, the threshold chosen for an editorial share of {cv['prior']}; "
                  f"epoch {cv['epoch']} and threshold {cv['threshold']} were kept.", "",
                  "| epoch | threshold | macro-F1 (at that share) | macro-F1 | at 0.5 | sd over folds |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['epoch']} | {r['threshold']:.2f} | {r['macro_f1_at_prior']:.4f} | {r['macro_f1']:.4f} | "
                  f"{r['macro_f1_at_0.5']:.4f} | {r['fold_sd']:.4f} |" for r in cv["table"]]
    st = (t.get("metrics") or {}).get("stacking")
    if st:
        lines += ["", "## Feature stacker (`model/features.py`)", "",
                  f"Groups kept: {', '.join(st['groups']) or 'none'}. Cross-validated macro-F1 ({st['folds']} folds "
                  f"over the out-of-fold probabilities): encoder alone {st['encoder_only_macro_f1']:.4f}, "
                  f"recalibrated logit {st['logit_only_macro_f1']:.4f}, with the kept groups {st['macro_f1']:.4f}. "
                  f"A group is kept only if it adds at least {st['min_gain']}.", "",
                  "| group | gain alone | loss when dropped |", "|---|---|---|"]
        lines += [f"| {g} | {v:+.4f} | {st['loss_when_dropped'].get(g, 0.0):+.4f} |" if g in st["loss_when_dropped"]
                  else f"| {g} | {v:+.4f} | (not kept) |" for g, v in sorted(st["gain_alone"].items())]
    if t.get("metrics"):
        lines += ["", "## Metrics", "", "| split | metric | value |", "|---|---|---|"]
        for split, metrics in sorted((k, v) for k, v in t["metrics"].items() if k not in ("cv", "stacking")):
            for name, value in sorted(metrics.items()):
                lines.append(f"| {split} | {name} | {value:.4f} |" if isinstance(value, float)
                             else f"| {split} | {name} | {value} |")
    if t.get("command"):
        lines += ["", "## Rebuild", "", "```", t["command"], "```"]
    return "\n".join(lines) + "\n"
