"""The lexical branch: a TF-IDF logistic regression beside the encoder, mixed in through a dev-chosen gate.

Subjectivity in news is carried by words as much as by meaning ("shameful", "of course", "we must"), and a
bag of n-grams sees them in a way a mean-pooled embedding blurs (the CheckThat! 2024/2025 winners both add
such a branch). The branch owns its vocabulary, IDF weights and linear weights; the stance model mixes it
with the encoder's probability in logit space,

    logit(p) = (1 - weight) * logit(p_encoder) + weight * (w . tfidf(text) + b),

with ``weight`` chosen on dev data. Saved as ``lexical.json`` (vocabulary, settings) and
``lexical.safetensors`` (IDF, weights); never pickled.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from .encoder import ModelLoadError

JSON_NAME = "lexical.json"
WEIGHTS_NAME = "lexical.safetensors"
FORMAT = "presslens-lexical"
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|[!?]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngrams(text: str, n_max: int = 2) -> list[str]:
    toks = tokens(text)
    out = list(toks)
    for n in range(2, n_max + 1):
        out += [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    return out


class LexicalBranch:
    def __init__(self, vocab: list[str], idf: np.ndarray, coef: np.ndarray, intercept: float,
                 weight: float = 0.0, n_max: int = 2, info: dict | None = None):
        if not (len(vocab) == len(idf) == len(coef)):
            raise ModelLoadError(f"lexical branch: vocabulary ({len(vocab)}), idf ({len(idf)}) and weights "
                                 f"({len(coef)}) differ in length")
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = float(intercept)
        self.weight = float(weight)
        self.n_max = int(n_max)
        self.info = dict(info or {})

    # -- features ------------------------------------------------------------------------------
    def features(self, texts: Sequence[str]):
        """Sublinear-TF x IDF, L2-normalised rows, as a scipy CSR matrix."""
        from scipy.sparse import csr_matrix

        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            counts = Counter(self.index[g] for g in ngrams(text, self.n_max) if g in self.index)
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64)
            v = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[idx]
            v /= max(float(np.linalg.norm(v)), 1e-12)
            rows += [r] * len(idx)
            cols += idx.tolist()
            vals += v.tolist()
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocab)), dtype=np.float32)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float32)
        return (self.features(texts) @ self.coef + self.intercept).astype(np.float32)

    def mix(self, p_encoder: np.ndarray, texts: Sequence[str], weight: float | None = None) -> np.ndarray:
        """P(commentary) from the encoder's probabilities and the branch, through the gate."""
        w = self.weight if weight is None else float(weight)
        p = np.clip(np.asarray(p_encoder, dtype=np.float64), 1e-6, 1 - 1e-6)
        if w == 0.0:
            return p.astype(np.float32)
        z = (1.0 - w) * np.log(p / (1 - p)) + w * self.logits(texts)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Sequence[str], y: Sequence[int], c: float = 1.0, min_df: int = 2, n_max: int = 2,
            max_features: int = 20000, seed: int = 13) -> LexicalBranch:
        """Vocabulary (n-grams in >= ``min_df`` sentences), smooth IDF, and an L2 logistic regression."""
        from sklearn.linear_model import LogisticRegression

        df = Counter(g for t in texts for g in set(ngrams(t, n_max)))
        vocab = sorted((g for g, n in df.items() if n >= min_df), key=lambda g: (-df[g], g))[:max_features]
        vocab.sort()
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in vocab], dtype=np.float32)
        branch = cls(vocab, idf, np.zeros(len(vocab), dtype=np.float32), 0.0, n_max=n_max)
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
        clf.fit(branch.features(texts), np.asarray(y))
        branch.coef = clf.coef_[0].astype(np.float32)
        branch.intercept = float(clf.intercept_[0])
        branch.info = {"c": c, "min_df": min_df, "n_train": n}
        return branch

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        save_file({"idf": self.idf, "coef": self.coef}, str(directory / WEIGHTS_NAME))
        meta = {"format": FORMAT, "vocab": self.vocab, "intercept": self.intercept, "weight": self.weight,
                "n_max": self.n_max, "info": self.info}
        (directory / JSON_NAME).write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path) -> LexicalBranch:
        try:
            meta = json.loads((directory / JSON_NAME).read_text(encoding="utf-8"))
            arrays = load_file(str(directory / WEIGHTS_NAME))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"lexical branch in {directory} is unreadable: {exc}") from exc
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise ModelLoadError(f"{directory / WEIGHTS_NAME} is not a readable safetensors file: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelLoadError(f"{directory / JSON_NAME} is not a presslens lexical branch")
        if set(arrays) != {"idf", "coef"}:
            raise ModelLoadError(f"{directory / WEIGHTS_NAME} must hold idf and coef")
        return cls(meta["vocab"], arrays["idf"], arrays["coef"], meta["intercept"], meta.get("weight", 0.0),
                   meta.get("n_max", 2), meta.get("info"))

    @staticmethod
    def present(directory: Path) -> bool:
        return (directory / JSON_NAME).is_file()
