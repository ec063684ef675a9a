"""``presslens eval stance``: score the stance model on labelled sentences or whole articles.

Sentence level (``--format checkthat|newssd|babe|jsonl|csv``): the model's commentary decision at its
dev-chosen threshold against the gold labels; ``metrics.json`` holds ``macro_f1`` (the CheckThat! metric)
with per-class precision/recall/F1, and ``predictions.csv`` one row per sentence.

Article level (``--level article``; ``--format basil`` reads the BASIL directory, ``jsonl``/``csv`` read
rows with ``text`` and ``label`` and optional ``title``/``id``): every article goes through the same
path as ``presslens analyze`` (clean, segment, encode, ``StanceModel.judge``). ``metrics.json`` holds
``false_editorial_rate`` (share of gold-neutral articles labelled editorial) and ``macro_f1`` where both
labels occur. BASIL articles are all straight news reports (gold ``neutral``); they are split into two
halves by a hash of the event (triplet) id, so the article rule can be calibrated on one half
(``--basil-half calib``) and checked on the other (``heldout``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SENTENCE_FORMATS = ("checkthat", "newssd", "babe", "jsonl", "csv")
DEFAULT_TRAIN = "../shared/data/checkthat2025_task1_subjectivity_en/train_en.tsv"
ARTICLE_FORMATS = ("basil", "jsonl", "csv")


class EvalError(ValueError):
    """Bad evaluation input; the message says what and where."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="labelled file (or the BASIL directory with articles/ for --format basil)")
    parser.add_argument("--format", required=True, choices=["checkthat", "newssd", "babe", "basil", "jsonl", "csv"])
    parser.add_argument("--level", default="sentence", choices=["sentence", "article"])
    parser.add_argument("--model", default=None, metavar="NAME|DIR",
                        help="stance model: a profile (default, accurate) or a checkpoint directory (default: default)")
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory (metrics.json, predictions.csv)")
    parser.add_argument("--basil-half", default="all", choices=["all", "calib", "heldout"],
                        help="BASIL only: evaluate all 300 articles or one half split by event")
    parser.add_argument("--train", default=DEFAULT_TRAIN, metavar="PATH",
                        help="train split the baselines are fitted on (sentence level; default: CheckThat train_en.tsv "
                             "under ../shared/data); its sentences that also occur in --data are dropped first")
    parser.add_argument("--train-format", default="auto", help="format of --train (default: detect)")
    parser.add_argument("--no-baselines", action="store_true", help="score presslens alone")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="evaluate the first N items only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the baselines and the bootstrap")
    parser.add_argument("--voice-rules", default="checkpoint", choices=["checkpoint", "on", "off"],
                        help="the writer-voice rule inside articles: as the checkpoint records it (default), or "
                             "forced on or off to measure its effect")


# -- metrics ---------------------------------------------------------------------------------------
def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Macro-F1, accuracy and per-class precision/recall/F1 for 0/1 arrays (1 = editorial)."""
    from .metrics import classification_metrics as labelled_metrics

    names = np.array(["neutral", "editorial"])
    m = labelled_metrics(list(names[y_true]), list(names[y_pred]))
    out = {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"]}
    for label, pc in m["per_class"].items():
        out.update({f"precision_{label}": pc["precision"], f"recall_{label}": pc["recall"], f"f1_{label}": pc["f1"]})
    return out


# -- data ------------------------------------------------------------------------------------------
def load_labelled_articles(path: str, fmt: str) -> list[dict]:
    from presslens.training.data import GENERIC_LABELS, DataError, load_rows

    if not Path(path).is_file():
        raise EvalError(f"{path}: no such file")
    try:
        rows = load_rows(path, fmt)
    except DataError as exc:
        raise EvalError(str(exc)) from exc
    except Exception as exc:
        raise EvalError(f"{path}: cannot parse as {fmt}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from exc
    missing = {"text", "label"} - set(rows.column_names)
    if missing:
        raise EvalError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    out = []
    for i, r in enumerate(rows, start=1):
        label = GENERIC_LABELS.get(str(r["label"]).strip().lower())
        if label is None:
            raise EvalError(f"{path}: row {i}: unknown label {r['label']!r} (expected neutral or editorial)")
        if not isinstance(r["text"], str) or not r["text"].strip():
            raise EvalError(f"{path}: row {i}: empty text")
        out.append({"id": str(r.get("id") or i), "title": r.get("title") or None, "text": r["text"], "label": label})
    return out


# -- evaluation ------------------------------------------------------------------------------------
def evaluate_sentences(model, data, path: str, fmt: str, out: Path, train=None, seed: int = 0) -> dict:
    """presslens and, given a train split, the baselines on the same sentences; writes the full report."""
    from presslens.model.encoder import Encoder

    from . import report
    from .baselines import run_stance_baselines

    p = model.predict_proba(data.texts)[:, 1]
    labels = ["editorial" if x >= model.config.threshold else "neutral" for x in p]
    systems = {"presslens": {"labels": labels, "proba": p}}
    extra = {"data": Path(path).name, "format": fmt, "level": "sentence",
             "threshold": round(float(model.config.threshold), 4)}
    if train is not None:
        # The "frozen encoder + LR" baseline uses the base encoder the stance model starts from, not the
        # fine-tuned one (that would credit our fine-tuning to the baseline).
        base = model.encoder if model.config.mode == "fast" else Encoder(model.config.encoder,
                                                                         max_length=model.config.max_length)
        systems.update(run_stance_baselines(train.texts, train.labels, data.texts, encoder=base, seed=seed))
        extra.update({"baselines_train": Path(train.source).name, "baselines_train_n": len(train)})
    metrics = report.write_stance_report(out, texts=data.texts, gold=data.labels, systems=systems,
                                         title=f"Stance evaluation: {Path(path).name}", extra=extra, seed=seed)
    # The headline number at the top level too, so scripts need not know the report layout.
    metrics["macro_f1"] = metrics["systems"]["presslens"]["macro_f1"]
    report.write_metrics(out, metrics)
    return metrics


def judge_articles(model, rows: list[dict]) -> list:
    """The article stance for each row, through the same steps as the Analyzer."""
    from presslens.model.pipeline import split_per_article
    from presslens.model.text import Article

    articles = [Article(r["text"], id=r["id"], title=r.get("title")) for r in rows]
    emb = model.encoder.encode([s.text for a in articles for s in a.sentences])
    results = [model.judge(a, e) for a, e in zip(articles, split_per_article(emb, articles), strict=True)]
    return results


def evaluate_articles(model, rows: list[dict], out: Path, source: str, fmt: str) -> dict:
    results = judge_articles(model, rows)
    y = np.array([int(r["label"] == "editorial") for r in rows])
    pred = np.array([int(s.label == "editorial") for s in results])
    neutral = y == 0
    metrics: dict = {
        "level": "article", "data": source, "format": fmt, "n": len(rows),
        "n_editorial": int(y.sum()), "n_neutral": int(neutral.sum()),
        "predicted_editorial": int(pred.sum()),
        "false_editorial_rate": float(pred[neutral].mean()) if neutral.any() else 0.0,
        "mean_commentary_sentences": float(np.mean([len(s.evidence) for s in results])) if results else 0.0,
    }
    if neutral.any() and (~neutral).any():
        metrics.update(classification_metrics(y, pred))
    halves = sorted({r["half"] for r in rows if "half" in r})
    for h in halves:
        idx = np.array([r.get("half") == h for r in rows])
        metrics[f"false_editorial_rate_{h}"] = float(pred[idx & neutral].mean()) if (idx & neutral).any() else 0.0
        metrics[f"n_{h}"] = int(idx.sum())
    from . import report

    report.write_predictions_csv(out / "predictions.csv", [
        {"id": r["id"], "gold": r["label"], "predicted": s.label, "editorial_probability": s.editorial_probability,
         "commentary_sentences": len(s.evidence), "n_sentences": len(s.sentences)}
        for r, s in zip(rows, results, strict=True)])
    report.write_metrics(out, metrics)
    lines = [f"# Article-level stance evaluation: {source}", "",
             report.markdown_table(["metric", "value"], [[k, v] for k, v in sorted(metrics.items())]), "",
             "Per-article predictions: `predictions.csv`."]
    report.write_text(out / "report.md", "\n".join(lines))
    return metrics


def _limit(seq, n: int):
    return seq[:n] if n else seq


def run(ns: argparse.Namespace) -> int:
    import time

    from presslens.model.encoder import ModelLoadError
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import StanceModel
    from presslens.training.data import DataError, LabelledSentences, deduplicate, load_basil, load_sentences

    from . import report

    started = time.time()
    out = Path(ns.out)
    data_files = [ns.data]
    try:
        if ns.limit < 0:
            raise EvalError("--limit must be >= 0")
        if ns.level == "sentence" and ns.format not in SENTENCE_FORMATS:
            raise EvalError(f"--format {ns.format} has no sentence labels; use --level article")
        if ns.level == "article" and ns.format not in ARTICLE_FORMATS:
            raise EvalError(f"--format {ns.format} holds sentences, not articles; use --level sentence")
        model_dir = resolve_stance(ns.model)  # a bad --model fails before any data is read
        train = None
        try:
            if ns.format == "basil":
                rows = _limit(load_basil(ns.data, ns.basil_half), ns.limit)
            elif ns.level == "article":
                rows = _limit(load_labelled_articles(ns.data, ns.format), ns.limit)
            else:
                data = load_sentences(ns.data, ns.format)
                data = LabelledSentences(_limit(data.texts, ns.limit), _limit(data.labels, ns.limit), data.source)
                if not ns.no_baselines:
                    if not Path(ns.train).is_file():
                        raise EvalError(f"baseline train split {ns.train}: no such file (give --train PATH or --no-baselines)")
                    train, _ = deduplicate(load_sentences(ns.train, ns.train_format), data)
                    data_files.append(ns.train)
        except DataError as exc:
            raise EvalError(str(exc)) from exc
        model = StanceModel.from_pretrained(model_dir)
        if ns.voice_rules != "checkpoint":
            model.config.voice_rules = ns.voice_rules == "on"
        if ns.level == "sentence":
            metrics = evaluate_sentences(model, data, ns.data, ns.format, out, train=train, seed=ns.seed)
        else:
            metrics = evaluate_articles(model, rows, out, Path(ns.data).name, ns.format)
    except (EvalError, ModelLoadError) as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    report.write_run_info(out, data_files, ns.seed, started,
                          extra={"model": str(ns.model or "default"), "level": ns.level, "format": ns.format,
                                 "voice_rules": model.config.voice_rules})
    if ns.level == "sentence":
        shown = {name: round(m["macro_f1"], 4) for name, m in sorted(metrics["systems"].items())}
        print(f"wrote {out}/metrics.json: macro-F1 {json.dumps(shown, sort_keys=True)}")
    else:
        shown = {k: metrics[k] for k in ("macro_f1", "false_editorial_rate", "n") if k in metrics}
        print(f"wrote {out}/metrics.json: {json.dumps(report.canonical(shown), sort_keys=True)}")
    return 0
