"""The precision gate: a lower precision serves only if it gives the fp32 answers.

A candidate encoder (bf16 or int8, ``model.lowp``) is compared with the fp32 encoder of the same weights
through the same stance model (head, thresholds, article rule):

- **sentence labels** on the probe sentences (``model/probes/gate.json``) must be identical;
- **article labels** on the probe articles (short articles of the seed kinds: wire report, op-ed, blog
  aside, feature, a mixed one) must be identical;
- **dev macro-F1** (CheckThat! dev, where the caller supplies it) must be within ``F1_TOLERANCE`` of fp32's.

Without dev data the gate decides on the probes alone and its verdict says so (``dev: null``). The
function here only compares; building the candidate, caching the verdict and choosing what serves is
``model.precision``'s work.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: largest |dev macro-F1 (candidate) - dev macro-F1 (fp32)| a precision may show
F1_TOLERANCE = 0.005
#: bump when what the gate checks changes, so older verdicts are not trusted
GATE_VERSION = 1
PROBES_FILE = Path(__file__).resolve().parent.parent / "probes" / "gate.json"


@dataclass(frozen=True)
class DevSet:
    """Labelled sentences (labels ``neutral``/``editorial``) and where they came from."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    name: str
    sha256: str

    @classmethod
    def of(cls, texts: Sequence[str], labels: Sequence[str], name: str) -> DevSet:
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"dev set {name}: {len(texts)} texts for {len(labels)} labels")
        bad = sorted({lab for lab in labels if lab not in ("neutral", "editorial")})
        if bad:
            raise ValueError(f"dev set {name}: labels must be neutral/editorial, got {bad[:3]}")
        h = hashlib.sha256(json.dumps([list(texts), list(labels)]).encode()).hexdigest()
        return cls(tuple(texts), tuple(labels), name, h)


@dataclass(frozen=True)
class GateData:
    probes: tuple[str, ...]
    articles: tuple[tuple[str, str], ...]  # (id, text)
    dev: DevSet | None = None


def probe_data(dev: DevSet | None = None, path: Path = PROBES_FILE) -> GateData:
    data = json.loads(path.read_text(encoding="utf-8"))
    return GateData(tuple(data["sentences"]), tuple((a["id"], a["text"]) for a in data["articles"]), dev)


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Macro-F1 over the two labels (a class absent from both gold and prediction counts as F1 0)."""
    scores = []
    for label in ("neutral", "editorial"):
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def _sentence_labels(stance, encoder, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    p = stance.proba_from_embeddings(encoder.encode(list(texts)), list(texts))
    return [stance.config.id2label[int(x >= stance.config.threshold)] for x in p], p


def _article_labels(stance, encoder, articles: Sequence[tuple[str, str]]) -> list[str]:
    from ..text import Article

    out = []
    for ident, text in articles:
        sents = Article(text, id=ident).sentences
        texts = [s.text for s in sents]
        p = stance.proba_from_embeddings(encoder.encode(texts), texts)
        out.append(stance.judge_article(texts, p, [s.is_title for s in sents]).label)
    return out


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_gate(stance, reference, candidate, data: GateData) -> dict:
    """Compare ``candidate`` with ``reference`` (the fp32 encoder) through ``stance``; a JSON-able verdict.

    ``stance`` needs ``proba_from_embeddings``, ``judge_article`` and ``config`` (``threshold``,
    ``id2label``): a ``StanceModel``, whose own encoder is not used. ``passed`` is true only when every
    check that ran passed; ``failures`` says which did not, in words.
    """
    reference.encode(list(data.probes[:4]))  # warm both up, so the timing below is not the first call's
    candidate.encode(list(data.probes[:4]))
    (ref_labels, ref_p), t_ref = _timed(lambda: _sentence_labels(stance, reference, data.probes))
    (cand_labels, cand_p), t_cand = _timed(lambda: _sentence_labels(stance, candidate, data.probes))
    flipped = [i for i, (a, b) in enumerate(zip(ref_labels, cand_labels, strict=True)) if a != b]
    ref_articles = _article_labels(stance, reference, data.articles)
    cand_articles = _article_labels(stance, candidate, data.articles)
    art_flipped = [ident for (ident, _), a, b in zip(data.articles, ref_articles, cand_articles, strict=True)
                   if a != b]
    verdict = {
        "gate_version": GATE_VERSION,
        "probe_sentences": len(data.probes), "probe_labels_changed": len(flipped),
        "probe_max_prob_diff": float(np.abs(ref_p - cand_p).max()) if len(ref_p) else 0.0,
        "probe_articles": len(data.articles), "article_labels_changed": art_flipped,
        "probe_speedup": round(t_ref / t_cand, 2) if t_cand > 0 else None,
        "dev": None,
    }
    failures = []
    if flipped:
        failures.append(f"{len(flipped)}/{len(data.probes)} probe sentence labels differ from fp32")
    if art_flipped:
        failures.append(f"{len(art_flipped)}/{len(data.articles)} probe article labels differ from fp32 "
                        f"({', '.join(art_flipped)})")
    if data.dev is not None:
        ref_dev, _ = _sentence_labels(stance, reference, data.dev.texts)
        cand_dev, _ = _sentence_labels(stance, candidate, data.dev.texts)
        f_ref, f_cand = macro_f1(data.dev.labels, ref_dev), macro_f1(data.dev.labels, cand_dev)
        verdict["dev"] = {"name": data.dev.name, "sha256": data.dev.sha256, "sentences": len(data.dev.texts),
                          "macro_f1_fp32": round(f_ref, 4), "macro_f1": round(f_cand, 4),
                          "labels_changed": sum(a != b for a, b in zip(ref_dev, cand_dev, strict=True))}
        if abs(f_cand - f_ref) > F1_TOLERANCE:
            failures.append(f"dev macro-F1 {f_cand:.4f} against fp32's {f_ref:.4f} (more than {F1_TOLERANCE} apart)")
    verdict["passed"] = not failures
    verdict["failures"] = failures
    return verdict


def summary(verdict: dict) -> str:
    """The verdict in one line, for logs, ``/info`` and reports."""
    if not verdict.get("passed"):
        return "; ".join(verdict.get("failures") or ["did not pass"])
    parts = [f"{verdict['probe_labels_changed']}/{verdict['probe_sentences']} probe sentence labels and "
             f"{len(verdict['article_labels_changed'])}/{verdict['probe_articles']} probe article labels changed"]
    dev = verdict.get("dev")
    if dev:
        parts.append(f"dev macro-F1 {dev['macro_f1']:.4f} against fp32's {dev['macro_f1_fp32']:.4f}")
    else:
        parts.append("no dev set given: decided on the probe set and probe articles only")
    return "; ".join(parts)
