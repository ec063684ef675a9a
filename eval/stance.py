"""``presslens eval stance``: score the stance model on labelled sentences or whole articles.

Sentence level (``--format checkthat|newssd|babe|jsonl|csv``): the model's commentary decision at its
dev-chosen threshold against the gold labels; ``metrics.json`` holds ``macro_f1`` (the CheckThat! metric)
with per-class precision/recall/F1, and ``predictions.csv`` one row per sentence.

Article level (``--level article``; ``--format basil`` reads the BASIL directory, ``jsonl``/``csv`` read
rows with ``text`` and ``label`` and optional ``title``/``id``): every article goes through the same
path as ``presslens analyze`` (clean, segment, encode, ``judge_article``). ``metrics.json`` holds
``false_editorial_rate`` (share of gold-neutral articles labelled editorial) and ``macro_f1`` where both
labels occur. BASIL articles are all straight news reports (gold ``neutral``); they are split into two
halves by a hash of the event (triplet) id, so the article rule can be calibrated on one half
(``--basil-half calib``) and checked on the other (``heldout``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

SENTENCE_FORMATS = ("checkthat", "newssd", "babe", "jsonl", "csv")
ARTICLE_FORMATS = ("basil", "jsonl", "csv")


class EvalError(ValueError):
    """Bad evaluation input; the message says what and where."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="labelled file (or the BASIL directory with articles/ for --format basil)")
    parser.add_argument("--format", required=True, choices=["checkthat", "newssd", "babe", "basil", "jsonl", "csv"])
    parser.add_argument("--level", default="sentence", choices=["sentence", "article"])
    parser.add_argument("--model", default=None, metavar="DIR", help="stance checkpoint (default: the shipped one)")
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory (metrics.json, predictions.csv)")
    parser.add_argument("--basil-half", default="all", choices=["all", "calib", "heldout"],
                        help="BASIL only: evaluate all 300 articles or one half split by event")


# -- metrics ---------------------------------------------------------------------------------------
def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Macro-F1 over the two classes plus per-class precision, recall and F1 (1 = editorial)."""
    out: dict[str, float] = {}
    f1s = []
    for c, name in ((0, "neutral"), (1, "editorial")):
        tp = int(((y_pred == c) & (y_true == c)).sum())
        fp = int(((y_pred == c) & (y_true != c)).sum())
        fn = int(((y_pred != c) & (y_true == c)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        out.update({f"precision_{name}": p, f"recall_{name}": r, f"f1_{name}": f})
        f1s.append(f)
    out["macro_f1"] = float(np.mean(f1s))
    out["accuracy"] = float((y_true == y_pred).mean()) if len(y_true) else 0.0
    return out


def _rounded(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else _rounded(v) if isinstance(v, dict) else v)
            for k, v in d.items()}


def write_metrics(out: Path, metrics: dict) -> Path:
    """Deterministic metrics.json: sorted keys, floats rounded to 4 places, no timestamps."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    path.write_text(json.dumps(_rounded(metrics), indent=2, sort_keys=True) + "\n")
    return path


# -- data ------------------------------------------------------------------------------------------
def load_labelled_articles(path: str, fmt: str) -> list[dict]:
    from training.data import _GENERIC_LABELS, DataError, _load_rows

    if not Path(path).is_file():
        raise EvalError(f"{path}: no such file")
    try:
        rows = _load_rows(path, fmt)
    except DataError as exc:
        raise EvalError(str(exc)) from exc
    except Exception as exc:
        raise EvalError(f"{path}: cannot parse as {fmt}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from exc
    missing = {"text", "label"} - set(rows.column_names)
    if missing:
        raise EvalError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    out = []
    for i, r in enumerate(rows, start=1):
        label = _GENERIC_LABELS.get(str(r["label"]).strip().lower())
        if label is None:
            raise EvalError(f"{path}: row {i}: unknown label {r['label']!r} (expected neutral or editorial)")
        if not isinstance(r["text"], str) or not r["text"].strip():
            raise EvalError(f"{path}: row {i}: empty text")
        out.append({"id": str(r.get("id") or i), "title": r.get("title") or None, "text": r["text"], "label": label})
    return out


# -- evaluation ------------------------------------------------------------------------------------
def evaluate_sentences(model, data, path: str, fmt: str, out: Path) -> dict:
    p = model.predict_proba(data.texts)[:, 1]
    y = np.array(data.y)
    pred = (p >= model.config.threshold).astype(int)
    metrics = classification_metrics(y, pred)
    metrics.update({"n": len(y), "n_editorial": int(y.sum()), "threshold": float(model.config.threshold),
                    "level": "sentence", "data": Path(path).name, "format": fmt})
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "text", "gold", "predicted", "probability"])
        for i, (t, g, q, pp) in enumerate(zip(data.texts, y, pred, p, strict=True), start=1):
            w.writerow([i, t, "editorial" if g else "neutral", "editorial" if q else "neutral", f"{pp:.4f}"])
    return metrics


def judge_articles(model, rows: list[dict]) -> list:
    """The article stance for each row, through the same steps as the Analyzer."""
    from model.text import Article

    articles = [Article(r["text"], id=r["id"], title=r.get("title")) for r in rows]
    texts = [s.text for a in articles for s in a.sentences]
    emb = model.encoder.encode(texts)
    results, pos = [], 0
    for a in articles:
        e = emb[pos : pos + len(a.sentences)]
        pos += len(a.sentences)
        results.append(model.judge_article([s.text for s in a.sentences], model.proba_from_embeddings(e),
                                           [s.is_title for s in a.sentences]))
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
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "gold", "predicted", "editorial_probability", "commentary_sentences", "n_sentences"])
        for r, s in zip(rows, results, strict=True):
            w.writerow([r["id"], r["label"], s.label, f"{s.editorial_probability:.4f}", len(s.evidence),
                        len(s.sentences)])
    return metrics


def run(ns: argparse.Namespace) -> int:
    from model.encoder import ModelLoadError
    from model.pipeline import default_stance_path
    from model.stance import StanceModel
    from training.data import DataError, load_basil, load_sentences

    out = Path(ns.out)
    try:
        if ns.level == "sentence" and ns.format not in SENTENCE_FORMATS:
            raise EvalError(f"--format {ns.format} has no sentence labels; use --level article")
        if ns.level == "article" and ns.format not in ARTICLE_FORMATS:
            raise EvalError(f"--format {ns.format} holds sentences, not articles; use --level sentence")
        if ns.format == "basil":
            try:
                rows = load_basil(ns.data, ns.basil_half)
            except DataError as exc:
                raise EvalError(str(exc)) from exc
        elif ns.level == "article":
            rows = load_labelled_articles(ns.data, ns.format)
        else:
            try:
                data = load_sentences(ns.data, ns.format)
            except DataError as exc:
                raise EvalError(str(exc)) from exc
        model = StanceModel.from_pretrained(ns.model or default_stance_path())
        if ns.level == "sentence":
            metrics = evaluate_sentences(model, data, ns.data, ns.format, out)
        else:
            metrics = evaluate_articles(model, rows, out, Path(ns.data).name, ns.format)
    except (EvalError, ModelLoadError) as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    metrics["model"] = str(Path(ns.model).name if ns.model else "default")
    path = write_metrics(out, metrics)
    shown = {k: metrics[k] for k in ("macro_f1", "false_editorial_rate", "n") if k in metrics}
    print(f"wrote {path}: {json.dumps(_rounded(shown), sort_keys=True)}")
    return 0
