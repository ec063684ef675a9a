"""Lexicon and sentiment features beside the encoder, stacked with its logit in a logistic regression.

The CheckThat! winners fused their transformer with lexicon scores: HYBRINFOX (2024) with subjectivity and
vagueness lexicons, AI Wizards (2025) with sentiment scores. Each feature here comes from an offline lexicon
shipped in a PyPI package or from a short word list in this file, and each is computed on the sentence with
quotations blanked out, since a quoted opinion is reporting:

* ``subjectivity``, ``polarity``: the mean subjectivity and absolute polarity of the adjectives found in
  Pattern's sentiment lexicon (``textblob/en/en-sentiment.xml``, De Smedt & Daelemans, PDDL), read directly
  so that TextBlob (and NLTK) is never imported;
* ``vader``: VADER's absolute compound score and its negative and positive shares (``vaderSentiment``, MIT);
* ``voice``: first-person and second-person words outside quotes, question and exclamation marks;
* ``hedges``: hedges and boosters (Hyland's categories: "perhaps", "arguably", "clearly", "of course").

A ``Stacker`` holds the chosen groups and the regression: ``logit(p) = a * logit(p_encoder) + w . z + b``
with ``z`` the standardised features. It is saved as ``stacker.json`` (names and numbers; never pickled).
Which groups are kept is chosen by cross-validation (``training/stacking.py``).
"""

from __future__ import annotations

import functools
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .encoder import ModelLoadError

STACKER_NAME = "stacker.json"
FORMAT = "presslens-stacker"

_QUOTED = re.compile(r"\"[^\"]*\"?|“[^”]*”?|‘[^’]{8,}’")
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")
_FIRST = {"i", "i'm", "i’m", "i've", "i’ve", "i'd", "i’d", "i'll", "i’ll", "me", "my", "mine", "myself",
          "we", "we're", "we’re", "our", "ours", "us", "ourselves"}
_SECOND = {"you", "your", "yours", "yourself", "you're", "you’re"}
# Hyland (2005), "Metadiscourse": the commonest hedges and boosters in English prose.
_HEDGES = {"perhaps", "maybe", "arguably", "apparently", "presumably", "possibly", "probably", "seemingly",
           "likely", "unlikely", "suggests", "seems", "seem", "appears", "somewhat", "supposedly", "rather"}
_BOOSTERS = {"clearly", "obviously", "certainly", "definitely", "undoubtedly", "surely", "indeed", "truly",
             "really", "absolutely", "totally", "utterly", "never", "always", "must", "outrageous", "shameful"}
_BOOSTER_PHRASES = ("of course", "no doubt", "without doubt", "needless to say", "in fact", "to be sure")

GROUPS: dict[str, tuple[str, ...]] = {
    "subjectivity": ("pattern_subjectivity",),
    "polarity": ("pattern_polarity",),
    "vader": ("vader_compound", "vader_neg", "vader_pos"),
    "voice": ("first_person", "second_person", "question", "exclamation"),
    "hedges": ("hedges", "boosters"),
}


def outside_quotes(text: str) -> str:
    return _QUOTED.sub(" ", text)


@functools.lru_cache(maxsize=1)
def pattern_lexicon() -> dict[str, tuple[float, float]]:
    """word -> (mean polarity, mean subjectivity) over its senses, from Pattern's lexicon in TextBlob's wheel."""
    import importlib.util

    spec = importlib.util.find_spec("textblob")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the subjectivity features need the package textblob (pip install textblob)")
    path = Path(next(iter(spec.submodule_search_locations))) / "en" / "en-sentiment.xml"
    senses: dict[str, list[tuple[float, float]]] = {}
    for w in ET.parse(path).getroot().iter("word"):
        senses.setdefault(w.get("form", "").lower(), []).append(
            (float(w.get("polarity", 0)), float(w.get("subjectivity", 0))))
    return {k: (float(np.mean([s[0] for s in v])), float(np.mean([s[1] for s in v]))) for k, v in senses.items()}


@functools.lru_cache(maxsize=1)
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise ModelLoadError("the sentiment features need the package vaderSentiment (pip install vaderSentiment)") from exc
    return SentimentIntensityAnalyzer()


def _group_values(group: str, text: str, words: list[str]) -> list[float]:
    n = max(1, len(words))
    if group in ("subjectivity", "polarity"):
        lex = pattern_lexicon()
        hits = [lex[w] for w in words if w in lex]
        if not hits:
            return [0.0]
        return [float(np.mean([h[1] for h in hits]))] if group == "subjectivity" else \
            [float(np.mean([abs(h[0]) for h in hits]))]
    if group == "vader":
        s = _vader().polarity_scores(text)
        return [abs(s["compound"]), s["neg"], s["pos"]]
    if group == "voice":
        return [sum(w in _FIRST for w in words) / n * 10, sum(w in _SECOND for w in words) / n * 10,
                float("?" in text), float("!" in text)]
    if group == "hedges":
        low = text.lower()
        boosters = sum(w in _BOOSTERS for w in words) + sum(low.count(p) for p in _BOOSTER_PHRASES)
        return [sum(w in _HEDGES for w in words) / n * 10, boosters / n * 10]
    raise ValueError(f"unknown feature group {group!r}")


def features(texts: Sequence[str], groups: Sequence[str]) -> np.ndarray:
    """(n, features) for the named groups, in :data:`GROUPS` order within each group."""
    rows = []
    for t in texts:
        outside = outside_quotes(t)
        words = _WORD.findall(outside.lower())
        row: list[float] = []
        for g in groups:
            row += _group_values(g, outside, words)
        rows.append(row)
    width = sum(len(GROUPS[g]) for g in groups)
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), width)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class Stacker:
    """A logistic regression over the encoder's logit and the standardised features of ``groups``."""

    def __init__(self, groups: Sequence[str], mean: Sequence[float], scale: Sequence[float], coef: Sequence[float],
                 intercept: float, info: dict | None = None):
        unknown = [g for g in groups if g not in GROUPS]
        width = sum(len(GROUPS[g]) for g in groups if g in GROUPS)
        if unknown or not (len(mean) == len(scale) == width) or len(coef) != width + 1:
            raise ModelLoadError(f"stacker: groups {list(groups)} do not match {len(mean)} means, {len(scale)} "
                                 f"scales and {len(coef)} weights")
        if not all(math.isfinite(float(x)) for x in [*mean, *scale, *coef, intercept]) or min(scale, default=1) <= 0:
            raise ModelLoadError("stacker: weights must be finite and scales positive")
        self.groups = list(groups)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.info = dict(info or {})

    def design(self, p: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        z = (features(texts, self.groups) - self.mean) / self.scale
        return np.column_stack([_logit(p), z])

    def mix(self, p: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        x = self.design(p, texts)
        return (1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))).astype(np.float32)

    @classmethod
    def fit(cls, p: np.ndarray, texts: Sequence[str], y: np.ndarray, groups: Sequence[str], c: float = 1.0,
            feats: np.ndarray | None = None, info: dict | None = None) -> Stacker:
        """Fit on (encoder probability, features) -> label; ``feats`` reuses precomputed features."""
        from sklearn.linear_model import LogisticRegression

        f = features(texts, groups) if feats is None else feats
        mean, scale = f.mean(0), f.std(0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        x = np.column_stack([_logit(p), (f - mean) / scale])
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(x, y)
        return cls(groups, mean.tolist(), scale.tolist(), lr.coef_[0].tolist(), float(lr.intercept_[0]), info)

    def save(self, directory: Path) -> None:
        data = {"format": FORMAT, "groups": self.groups, "features": [n for g in self.groups for n in GROUPS[g]],
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "info": self.info}
        (Path(directory) / STACKER_NAME).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @staticmethod
    def present(directory: Path) -> bool:
        return (Path(directory) / STACKER_NAME).is_file()

    @classmethod
    def load(cls, directory: Path) -> Stacker:
        path = Path(directory) / STACKER_NAME
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path} is not readable JSON: {exc}") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ModelLoadError(f"{path} is not a presslens stacker")
        try:
            return cls(d["groups"], d["mean"], d["scale"], d["coef"], d["intercept"], d.get("info"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{path}: malformed stacker ({exc})") from exc
