"""Extractive summarizer: score sentences from encoder embeddings and position, pick with MMR to a budget.

Each body sentence gets features (position, centrality to the article centroid, similarity to the
headline, length, quotation share, question) and a linear scorer turns them into a salience score. The
default weights are trained by ``presslens train summarizer`` on oracle labels and shipped in
``model/weights/summarizer``; without them a documented unsupervised prior is used. Selection is maximal
marginal relevance: each pick trades salience against similarity to what is already chosen, until the
sentence or word budget is spent. The summary comes back in article order.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .claims import quote_fraction
from .encoder import ModelLoadError
from .io import atomic_dir
from .text import Article

FEATURES = (
    "bias",
    "inv_position",
    "rel_position",
    "first",
    "centrality",
    "title_similarity",
    "log_words",
    "quote_fraction",
    "question",
)
FORMAT = "presslens-summarizer"


@dataclass
class ScorerConfig:
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "bias": 0.0, "inv_position": 1.0, "rel_position": -0.3, "first": 0.3, "centrality": 1.0,
            "title_similarity": 0.5, "log_words": 0.1, "quote_fraction": -0.2, "question": -0.5,
        }
    )
    mmr_lambda: float = 0.7
    format: str = FORMAT
    training: dict = field(default_factory=dict)


def sentence_features(article: Article, embeddings: np.ndarray) -> np.ndarray:
    """(n_body, len(FEATURES)) features for the body sentences; ``embeddings`` covers all sentences."""
    body = [i for i, s in enumerate(article.sentences) if not s.is_title]
    titles = [i for i, s in enumerate(article.sentences) if s.is_title]
    n = len(body)
    feats = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return feats
    emb = embeddings[body]
    centroid = emb.mean(0)
    centroid /= np.linalg.norm(centroid) + 1e-9
    title_emb = embeddings[titles[0]] if titles else None
    for k, i in enumerate(body):
        text = article.sentences[i].text
        words = len(text.split())
        feats[k] = (
            1.0,
            1.0 / (1.0 + k),
            k / max(1, n - 1),
            1.0 if k == 0 else 0.0,
            float(emb[k] @ centroid),
            float(emb[k] @ title_emb) if title_emb is not None else 0.0,
            math.log1p(words),
            quote_fraction(text),
            1.0 if text.rstrip().endswith("?") else 0.0,
        )
    return feats


@dataclass
class SummarySentence:
    index: int  # index into Article.sentences
    text: str
    start: int
    end: int
    score: float


class ExtractiveSummarizer:
    def __init__(self, config: ScorerConfig | None = None):
        self.config = config or ScorerConfig()
        self._w = np.array([self.config.weights.get(f, 0.0) for f in FEATURES], dtype=np.float32)

    def scores(self, article: Article, embeddings: np.ndarray) -> np.ndarray:
        """Salience in [0, 1] for each body sentence."""
        z = sentence_features(article, embeddings) @ self._w
        return 1.0 / (1.0 + np.exp(-z))

    def summarize(
        self,
        article: Article,
        embeddings: np.ndarray,
        *,
        max_sentences: int | None = 3,
        max_words: int | None = None,
        allowed: Sequence[bool] | None = None,
    ) -> list[SummarySentence]:
        """Pick sentences by MMR within the budget; ``allowed`` (per sentence) can exclude some."""
        body = [i for i, s in enumerate(article.sentences) if not s.is_title]
        if not body:
            return []
        sal = self.scores(article, embeddings)
        emb = embeddings[body]
        ok = [True] * len(body) if allowed is None else [bool(allowed[i]) for i in body]
        lam = self.config.mmr_lambda
        chosen: list[int] = []
        words = 0
        while True:
            if max_sentences is not None and len(chosen) >= max_sentences:
                break
            best, best_val = None, -np.inf
            for k in range(len(body)):
                if k in chosen or not ok[k]:
                    continue
                w = len(article.sentences[body[k]].text.split())
                if max_words is not None and chosen and words + w > max_words:
                    continue
                redundancy = max((float(emb[k] @ emb[j]) for j in chosen), default=0.0)
                val = lam * sal[k] - (1 - lam) * redundancy
                if val > best_val:
                    best, best_val = k, val
            if best is None:
                break
            chosen.append(best)
            words += len(article.sentences[body[best]].text.split())
            if max_words is not None and words >= max_words:
                break
        out = []
        for k in sorted(chosen):
            s = article.sentences[body[k]]
            out.append(SummarySentence(s.index, s.text, s.start, s.end, round(float(sal[k]), 4)))
        return out

    # -- persistence -----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        payload = {"format": FORMAT, "features": list(FEATURES), "weights": self.config.weights,
                   "mmr_lambda": self.config.mmr_lambda, "training": self.config.training}
        with atomic_dir(directory) as tmp:
            (tmp / "config.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        return Path(directory).resolve()

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ExtractiveSummarizer:
        path = Path(directory) / "config.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read summarizer config {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelLoadError(f"{path} is not a presslens summarizer config")
        weights = data.get("weights", {})
        if not isinstance(weights, dict) or any(not isinstance(v, (int, float)) for v in weights.values()):
            raise ModelLoadError(f"{path}: weights must map feature names to numbers")
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ModelLoadError(f"{path}: unknown features {sorted(unknown)}")
        return cls(ScorerConfig(weights=dict(weights), mmr_lambda=float(data.get("mmr_lambda", 0.7)),
                                training=data.get("training", {})))
