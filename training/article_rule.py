"""The article rule's calibration: per-article sentence evidence, and the Neyman-Pearson choice of the
in-article commentary threshold and the share cut-off on straight news (BASIL's calibration half).

Sentences are flagged by the one commentary decision that serving uses (``model.commentary.commentary_flags``,
the writer-voice rule included when the checkpoint has it on), so the rule calibrated is the rule served."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from presslens.model import commentary
from presslens.model.stance import ArticleRule, StanceModel


@dataclass
class ArticleEvidence:
    """Per body sentence of one article: P(commentary), whether it is reported speech, and its text."""

    probabilities: np.ndarray
    reported: np.ndarray
    texts: list[str] | None = None  # None: no writer-voice rule can apply (evidence from before it)
    voice_rules: bool = False

    def flags(self, threshold: float) -> np.ndarray:
        """The served decision at in-article ``threshold`` (``commentary.commentary_flags``)."""
        texts = self.texts if self.texts is not None else [""] * len(self.probabilities)
        return commentary.commentary_flags(texts, self.probabilities, self.reported, [False] * len(texts),
                                           threshold=threshold, voice_rules=self.voice_rules and self.texts is not None)


def article_evidence(model: StanceModel, rows: list[dict]) -> list[ArticleEvidence]:
    """Sentence probabilities and reported-speech flags for the body sentences of each article."""
    from presslens.model.claims import attribute
    from presslens.model.text import Article

    articles = [Article(r["text"], id=r.get("id"), title=r.get("title")) for r in rows]
    body = [[s.text for s in a.sentences if not s.is_title] for a in articles]
    probs = model.predict_proba([t for b in body for t in b])[:, 1]
    out, pos = [], 0
    for b in body:
        p = probs[pos : pos + len(b)]
        pos += len(b)
        out.append(ArticleEvidence(p, np.array([attribute(t).reported for t in b], dtype=bool), list(b),
                                   bool(model.config.voice_rules)))
    return out


def calibrate_article_rule(evidence: list[ArticleEvidence], sentence_threshold: float,
                           max_fer: float = 0.02, max_flag_rate: float = 0.05,
                           base: ArticleRule | None = None) -> tuple[float, ArticleRule, dict]:
    """Choose the in-article commentary threshold and the rule's share cut-off on straight news.

    Every calibration article is gold ``neutral``, so this is a Neyman-Pearson choice: the most
    sensitive settings whose false-editorial rate stays within ``max_fer``. The commentary threshold is
    the smallest value >= the dev-chosen sentence threshold at which at most ``max_flag_rate`` of the
    non-reported body sentences of straight news are flagged by it: the flags the threshold adds to the
    served decision's (wire copy is written to avoid commentary; a reader should not see a sea of flags).
    The writer-voice rule's own flags do not depend on the threshold, so they are not charged to its budget
    (charged, a threshold would have to make up for a rule it cannot change); they are in every flag the
    article rule counts, and in the served ``flag_rate`` the record shows beside ``threshold_flag_rate``. ``min_count`` stays at the documented 2: one stray sentence never makes an
    editorial. ``min_share`` is then the smallest value on a 0.01 grid for which at most ``max_fer`` of the
    articles come out editorial, with the served decision (voice rule included).
    """
    base = base or ArticleRule()
    n_own = sum(int((~e.reported).sum()) for e in evidence)
    fixed = [e.flags(float("inf")) for e in evidence]  # what the decision flags whatever the threshold

    def flag_rate(t: float) -> float:
        added = sum(int((e.flags(t) & ~f).sum()) for e, f in zip(evidence, fixed, strict=True))
        return added / n_own if n_own else 0.0

    threshold = float(sentence_threshold)
    for t in np.arange(sentence_threshold, 0.995, 0.01):
        threshold = float(round(t, 2))
        if flag_rate(threshold) <= max_flag_rate:
            break
    counts = [(int(e.flags(threshold).sum()), len(e.probabilities)) for e in evidence]
    chosen = None
    for share in np.arange(0.05, 0.61, 0.01):
        rule = ArticleRule(min_share=float(round(share, 2)), min_count=base.min_count,
                           k_share=base.k_share, k_count=base.k_count)
        fer = float(np.mean([rule.probability(n, m) >= 0.5 for n, m in counts])) if counts else 0.0
        if fer <= max_fer:
            chosen = (rule, fer)
            break
    if chosen is None:
        chosen = (ArticleRule(min_share=0.6, min_count=base.min_count, k_share=base.k_share,
                              k_count=base.k_count), float("nan"))
    rule, fer = chosen
    served = sum(int(e.flags(threshold).sum()) for e in evidence) / n_own if n_own else 0.0
    info = {"n_articles": len(evidence), "commentary_threshold": threshold, "flag_rate": round(served, 4),
            "threshold_flag_rate": round(flag_rate(threshold), 4),
            "false_editorial_rate": round(fer, 4), "min_share": rule.min_share}
    return threshold, rule, info


def calibrate_on_basil(model: StanceModel, basil_dir: str, max_fer: float = 0.02, log=print) -> dict:
    """Set the model's in-article threshold and article rule from BASIL's calibration half.

    Returns the calibration record, with the false-editorial rate on all 300 reports and on each half.
    """
    from .data import load_basil

    rows = load_basil(basil_dir)
    evidence = article_evidence(model, rows)
    calib = [e for e, r in zip(evidence, rows, strict=True) if r["half"] == "calib"]
    ct, rule, record = calibrate_article_rule(calib, model.config.threshold, max_fer=max_fer,
                                              base=model.config.article_rule)
    model.config.commentary_threshold, model.config.article_rule = ct, rule
    for half in ("all", "calib", "heldout"):
        sel = [e for e, r in zip(evidence, rows, strict=True) if half == "all" or r["half"] == half]
        labels = [rule.probability(int(e.flags(ct).sum()), len(e.probabilities)) >= 0.5 for e in sel]
        record[f"basil_fer_{half}"] = round(float(np.mean(labels)), 4)
    record["voice_rules"] = bool(model.config.voice_rules)
    model.config.calibration["articles"] = {"data": f"BASIL calibration half ({basil_dir}); no licence stated",
                                            **record}
    log(f"article rule calibrated on {record['n_articles']} BASIL reports: {json.dumps(record, sort_keys=True)}")
    return record
