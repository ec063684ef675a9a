"""The obvious alternatives, computed in the same run as presslens on the same data.

Stance (sentence level; labels ``neutral`` / ``editorial``), each fitted on a train split the user names:

* :class:`MajorityBaseline` -- always the most frequent train label.
* :class:`TfidfLogReg` -- word 1-2-gram TF-IDF + logistic regression.
* :class:`EncoderLogReg` -- frozen sentence-encoder embeddings (the same encoder presslens uses, default
  all-MiniLM-L6-v2) + logistic regression: the CheckThat organisers' baseline recipe.

All three expose ``fit(texts, labels)``, ``predict_proba(texts) -> P(editorial)`` and ``predict(texts)``;
:func:`fit_stance_baselines` / :func:`run_stance_baselines` build and apply all of them. Logistic
regressions use ``class_weight="balanced"`` (the train splits are 2:1 neutral-heavy and the metric is
macro-F1) and a fixed ``random_state``.

Summaries (extractive; each function takes the article's sentences as strings -- pass
``[s.text for s in Article(text).body_sentences]`` so every system sees the same segmentation -- and returns
the selected indices in article order):

* :func:`lead` -- the first k sentences (Lead-3).
* :func:`textrank` -- PageRank (power iteration) over a sentence-similarity graph: cosine of encoder
  embeddings when given, else TF-IDF cosine within the article.
* :func:`training.rouge.oracle` (the one named objective, also used for training labels) -- the ceiling: greedily add the sentence that most raises ROUGE-1 + ROUGE-2 F1
  against the best reference, stopping when nothing helps or the budget is spent.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from presslens.training.rouge import oracle

from .metrics import LABELS, POSITIVE

NEGATIVE = LABELS[0]


# ------------------------------------------------------------------------------------------ stance


def _check_train(texts: Sequence[str], labels: Sequence[str]) -> None:
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise ValueError("cannot fit a baseline on an empty train split")
    bad = sorted({lab for lab in labels if lab not in LABELS})
    if bad:
        raise ValueError(f"labels must be {list(LABELS)}, got {bad}")


def _labels_from_proba(p: np.ndarray, threshold: float = 0.5) -> list[str]:
    return [POSITIVE if x >= threshold else NEGATIVE for x in p]


class MajorityBaseline:
    """Predicts the most frequent train label; its probability is the train share of ``editorial``."""

    name = "majority"

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> MajorityBaseline:
        _check_train(texts, labels)
        self.p_editorial_ = float(np.mean([lab == POSITIVE for lab in labels]))
        # Ties go to neutral: claiming commentary needs evidence.
        self.label_ = POSITIVE if self.p_editorial_ > 0.5 else NEGATIVE
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.full(len(texts), self.p_editorial_, dtype=float)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.label_] * len(texts)


def _logreg(seed: int, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)


class _LogRegBase:
    name = "logreg"

    def __init__(self, seed: int = 0, c: float = 1.0):
        self.seed = seed
        self.c = c

    def _features(self, texts: Sequence[str], fit: bool = False):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> _LogRegBase:
        _check_train(texts, labels)
        y = np.array([lab == POSITIVE for lab in labels], dtype=int)
        x = self._features(texts, fit=True)
        if len(set(y.tolist())) < 2:
            # Logistic regression needs both classes; with one it degenerates to the majority answer.
            self.constant_ = float(y[0])
            self.clf_ = None
        else:
            self.constant_ = None
            self.clf_ = _logreg(self.seed, self.c).fit(x, y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.clf_ is None:
            return np.full(len(texts), self.constant_, dtype=float)
        if not len(texts):
            return np.zeros(0, dtype=float)
        return self.clf_.predict_proba(self._features(texts))[:, 1].astype(float)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return _labels_from_proba(self.predict_proba(texts))


class TfidfLogReg(_LogRegBase):
    """Word uni+bigram TF-IDF (sublinear tf, lowercase) + balanced logistic regression.

    Single-character tokens are kept (sklearn drops them by default): "I" is a strong commentary cue.
    """

    name = "tfidf_lr"

    def _features(self, texts: Sequence[str], fit: bool = False):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if fit:
            self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                               token_pattern=r"(?u)\b\w+\b")
            try:
                return self.vectorizer_.fit_transform(list(texts))
            except ValueError as exc:  # sklearn: "empty vocabulary"
                raise ValueError(f"TF-IDF baseline: the train texts hold no word tokens ({exc})") from None
        return self.vectorizer_.transform(list(texts))


class EncoderLogReg(_LogRegBase):
    """Frozen sentence-encoder embeddings + balanced logistic regression.

    ``encoder`` is a :class:`model.encoder.Encoder` (or anything with ``encode(texts) -> ndarray``); pass the
    one presslens already loaded so the comparison isolates the head, not the encoder. Embeddings of texts
    seen before are cached by text, so scoring the same test set twice costs one encoder pass.
    """

    name = "encoder_lr"

    def __init__(self, encoder, seed: int = 0, c: float = 1.0):
        super().__init__(seed, c)
        self.encoder = encoder
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from tqdm import tqdm

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        chunk = 256
        # A train split takes minutes to encode on a CPU: show progress, in chunks the encoder batches well.
        for start in tqdm(range(0, len(missing), chunk), desc="encoder_lr: embedding", unit="chunk",
                          disable=len(missing) <= chunk, leave=False, file=sys.stderr):
            part = missing[start : start + chunk]
            for t, e in zip(part, np.asarray(self.encoder.encode(part)), strict=True):
                self._cache[t] = e
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _features(self, texts: Sequence[str], fit: bool = False):
        return self.embed(texts)


def fit_stance_baselines(train_texts: Sequence[str], train_labels: Sequence[str], encoder=None,
                         seed: int = 0) -> dict[str, MajorityBaseline | TfidfLogReg | EncoderLogReg]:
    """Fit every stance baseline on the train split; ``encoder_lr`` is included only when an encoder is
    given. Keys are stable names for reports: ``majority``, ``tfidf_lr``, ``encoder_lr``."""
    models: dict = {
        "majority": MajorityBaseline().fit(train_texts, train_labels),
        "tfidf_lr": TfidfLogReg(seed=seed).fit(train_texts, train_labels),
    }
    if encoder is not None:
        models["encoder_lr"] = EncoderLogReg(encoder, seed=seed).fit(train_texts, train_labels)
    return models


def run_stance_baselines(train_texts: Sequence[str], train_labels: Sequence[str],
                         test_texts: Sequence[str], encoder=None, seed: int = 0) -> dict[str, dict]:
    """Fit on train, predict on test: ``{name: {"labels": [str], "proba": ndarray P(editorial)}}``."""
    out = {}
    for name, model in fit_stance_baselines(train_texts, train_labels, encoder, seed).items():
        proba = model.predict_proba(test_texts)
        labels = model.predict(test_texts)
        out[name] = {"labels": labels, "proba": proba}
    return out


# ------------------------------------------------------------------------------------------ summaries


def _budget(n: int, k: int) -> int:
    if k < 1:
        raise ValueError(f"summary budget must be at least 1 sentence, got {k}")
    return min(n, k)


def lead(sentences: Sequence[str], k: int = 3) -> list[int]:
    """Lead-k: the first ``k`` sentences."""
    return list(range(_budget(len(sentences), k)))


def _tfidf_similarity(sentences: Sequence[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        x = TfidfVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b").fit_transform(list(sentences))
    except ValueError:  # every sentence is empty of word tokens
        return np.zeros((len(sentences), len(sentences)))
    return (x @ x.T).toarray()  # rows are L2-normalised, so this is cosine


def pagerank(weights: np.ndarray, damping: float = 0.85, max_iter: int = 200, tol: float = 1e-8) -> np.ndarray:
    """PageRank scores of a weighted graph by power iteration (rows with no edges jump uniformly)."""
    w = np.clip(np.asarray(weights, dtype=float), 0.0, None)
    n = w.shape[0]
    if n == 0:
        return np.zeros(0)
    np.fill_diagonal(w, 0.0)
    out = w.sum(1, keepdims=True)
    # Transition matrix: row-stochastic; dangling rows spread uniformly.
    trans = np.where(out > 0, w / np.where(out > 0, out, 1.0), 1.0 / n)
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        nxt = (1 - damping) / n + damping * (trans.T @ r)
        if np.abs(nxt - r).sum() < tol:
            return nxt
        r = nxt
    return r


def textrank(sentences: Sequence[str], k: int = 3, embeddings: np.ndarray | None = None,
             damping: float = 0.85) -> list[int]:
    """TextRank: the ``k`` sentences with the highest PageRank over the similarity graph, in article order.

    Similarity is the cosine of ``embeddings`` (one row per sentence, e.g. presslens's encoder output for
    the same sentences) when given, else TF-IDF cosine computed within the article. Negative similarities
    are dropped; ties in score go to the earlier sentence.
    """
    n = len(sentences)
    k = _budget(n, k)
    if n == 0:
        return []
    if embeddings is not None:
        e = np.asarray(embeddings, dtype=float)
        if e.shape[0] != n:
            raise ValueError(f"{n} sentences but {e.shape[0]} embeddings")
        e = e / np.clip(np.linalg.norm(e, axis=1, keepdims=True), 1e-12, None)
        sim = e @ e.T
    else:
        sim = _tfidf_similarity(sentences)
    scores = pagerank(sim, damping=damping)
    # Round before ranking so float noise cannot reorder equal scores between runs or machines.
    order = sorted(range(n), key=lambda i: (-round(float(scores[i]), 12), i))
    return sorted(order[:k])


SUMMARY_BASELINES = ("lead3", "textrank", "oracle")


def run_summary_baselines(sentences: Sequence[str], references: Sequence[str], k: int = 3,
                          embeddings: np.ndarray | None = None) -> dict[str, list[int]]:
    """All summary baselines for one article: ``{"lead3": [...], "textrank": [...], "oracle": [...]}``."""
    return {
        "lead3": lead(sentences, k),
        "textrank": textrank(sentences, k, embeddings=embeddings),
        "oracle": oracle(sentences, references, k),
    }
