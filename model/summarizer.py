"""Extractive summarizer: score sentences from encoder embeddings, position and wording; pick with MMR.

Each body sentence gets features (position in the article and in its paragraph, centrality to the article
centroid, similarity to the headline and to the lead, word-frequency salience, length, quotation share,
attribution, questions, dangling openers, similarity to the lead block and the article's lead-ness (how well
its opening covers the rest: the gate between a lead-first wire report and a feature), and, when several
articles on one event are summarised together, how strongly the other articles support it). A small scorer (logistic regression or a one-layer
MLP over standardised features) turns them into a salience score. Its weights are trained by ``presslens
train summarizer`` on greedy-oracle labels and shipped as JSON in ``model/weights/summarizer``; without
them a documented hand-set prior is used.

Selection is maximal marginal relevance over a capped candidate set (the ``max_candidates`` most salient
sentences), so the cost is linear in article length: every feature is a pass over the sentences or a
product with a fixed-size vector (the centroid, the headline, the lead), never a full sentence-by-sentence
similarity matrix. Selection (``model.selection``) honours the budgets exactly (never more sentences or
words than asked) and keeps each sentence readable alone: a sentence whose opener ("He", "This", "But")
needs the sentence before it comes with that sentence or is passed over (``model.coherence``; the
``dangling`` feature is the scorer's older, looser input and stays as trained). Summaries come back in
article order with character offsets and scores.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .coherence import Context
from .encoder import ModelLoadError
from .io import atomic_dir
from .selection import Candidate, mmr_select, with_antecedents
from .summary_features import (  # noqa: F401 - the features' names re-exported for their users
    FEATURES,
    SUPPORT_THRESHOLD,
    body_indices,
    lead_block,
    sentence_features,
    support_features,
)
from .text import Article

if TYPE_CHECKING:
    from .seqscorer import SequenceScorer

FORMAT = "presslens-summarizer"
FORMAT_VERSION = 2

# The prior used when no trained scorer is shipped: lead-heavy, central, on-topic, not a question.
_PRIOR = {
    "inv_position": 1.5, "first": 0.5, "lead3": 0.5, "centrality_z": 0.4, "title_similarity": 1.0,
    "lexical_z": 0.3, "log_words": 0.2, "question": -1.0, "dangling": -0.4, "quote_fraction": -0.2,
    "short": -0.5, "support_count": 1.0,
}
PRIOR_WEIGHTS = _PRIOR  # public: training blends fitted scorers with it (training/summ_cv.py)


@dataclass
class Scorer:
    """Standardise, then a stack of dense layers (ReLU between, sigmoid at the end); no layers = linear."""

    mean: list[float]
    scale: list[float]
    layers: list[dict]  # each {"weight": [[out x in]], "bias": [out]}
    features: list[str] = field(default_factory=lambda: list(FEATURES))

    def __post_init__(self) -> None:
        self._mean = np.asarray(self.mean, dtype=np.float32)
        self._scale = np.asarray(self.scale, dtype=np.float32)
        self._layers = [(np.asarray(layer["weight"], dtype=np.float32), np.asarray(layer["bias"], dtype=np.float32))
                        for layer in self.layers]
        self._cols = [FEATURES.index(f) for f in self.features]
        dim = len(self.features)
        for w, b in self._layers:
            if w.ndim != 2 or w.shape[1] != dim or b.shape != (w.shape[0],):
                raise ValueError(f"layer shape {w.shape} does not follow input width {dim}")
            dim = w.shape[0]
        if dim != 1 or self._mean.shape != (len(self.features),) or self._scale.shape != self._mean.shape:
            raise ValueError("scorer must end in one output and carry one mean/scale per feature")

    def logits(self, feats: np.ndarray) -> np.ndarray:
        x = (feats[:, self._cols] - self._mean) / self._scale
        for j, (w, b) in enumerate(self._layers):
            x = x @ w.T + b
            if j < len(self._layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0]

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(feats)))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale],
                "layers": [{"weight": [[round(float(v), 6) for v in row] for row in layer["weight"]],
                            "bias": [round(float(v), 6) for v in layer["bias"]]} for layer in self.layers]}

    @classmethod
    def from_dict(cls, d: dict) -> Scorer:
        return cls(mean=list(d["mean"]), scale=list(d["scale"]), layers=list(d["layers"]),
                   features=list(d.get("features", FEATURES)))

    @classmethod
    def linear(cls, weights: dict[str, float], bias: float = 0.0) -> Scorer:
        names = list(FEATURES)
        return cls(mean=[0.0] * len(names), scale=[1.0] * len(names),
                   layers=[{"weight": [[float(weights.get(f, 0.0)) for f in names]], "bias": [bias]}])


#: ``model.seqscorer.KIND``, repeated here so that loading a linear scorer does not import torch
SEQUENCE_KIND = "sequence"


def is_sequence_scorer(scorer) -> bool:
    """Whether ``scorer`` is a ``model.seqscorer.SequenceScorer``. That module (torch) is imported only when a
    checkpoint holds one, and no instance can exist before it is, so a server with a linear scorer (the
    shipped one) never loads torch for the summarizer."""
    seq = sys.modules.get(f"{__package__}.seqscorer")
    return seq is not None and isinstance(scorer, seq.SequenceScorer)


def score_sentences(scorer: Scorer | SequenceScorer, feats: np.ndarray, body_emb: np.ndarray) -> np.ndarray:
    """Salience in [0, 1] per body sentence from either kind of scorer (the sequence one also reads the
    body sentences' embeddings, in article order)."""
    if is_sequence_scorer(scorer):
        return scorer.probabilities(feats, body_emb, [FEATURES.index(f) for f in scorer.features])
    return scorer(feats)


@dataclass
class ScorerConfig:
    single: Scorer | SequenceScorer = field(default_factory=lambda: Scorer.linear(_PRIOR))
    multi: Scorer | SequenceScorer | None = None  # for several articles summarised together; else ``single``
    mmr_lambda: float = 0.8
    max_candidates: int = 64
    # keep every summary sentence readable alone (``model.selection``); False only for ablations
    coherent: bool = True
    training: dict = field(default_factory=dict)
    # ``weights_checksum`` of the encoder whose embeddings the trained scorer's features came from: its
    # standardisation and weights fit that encoder's similarities (None: the prior, or not recorded).
    encoder_checksum: str | None = None
    # The stance head its ``commentary`` feature was read from (``model.head.head_checksum``) and that model's
    # commentary decision (``model.commentary.commentary_decision``): a trained scorer is served only beside
    # them too (None: not recorded, taken on trust).
    head_checksum: str | None = None
    decision: dict | None = None
    # the support feature's paraphrase cosine (``support_features``) the scorer was fitted with
    support_threshold: float = SUPPORT_THRESHOLD



def support_cosine(commentary) -> float:
    """The support feature's cosine for a scorer trained beside a stance model: the checkpoint's calibrated
    ``support_threshold`` (``presslens calibrate``), the hand-set one for a bare encoder."""
    stance = getattr(commentary, "__self__", None)
    return float(getattr(getattr(stance, "config", None), "support_threshold", SUPPORT_THRESHOLD))


def fit_keys_of(commentary) -> dict:
    """What a scorer trained on ``commentary``'s features records, so it serves only beside them: the stance
    head's checksum, the commentary decision and the support cosine (nothing for a bare encoder)."""
    stance = getattr(commentary, "__self__", None)
    if stance is None:
        return {}
    keys = stance.fit_keys()
    return {"head_checksum": keys["head_checksum"], "decision": keys["decision"],
            "support_threshold": support_cosine(commentary)}


@dataclass
class SummarySentence:
    index: int  # index into Article.sentences
    text: str
    start: int
    end: int
    score: float


def _scorer_from_dict(d: dict, directory: Path) -> Scorer | SequenceScorer:
    if isinstance(d, dict) and d.get("kind") == SEQUENCE_KIND:
        from .seqscorer import SequenceScorer

        return SequenceScorer.from_dict(d, directory)
    return Scorer.from_dict(d)


class ExtractiveSummarizer:
    """``commentary``: optional map from sentence embeddings to P(commentary) (the stance model's head, set by
    the Analyzer), which feeds the ``commentary`` feature; a scorer trained with it must be served with it."""

    def __init__(self, config: ScorerConfig | None = None,
                 commentary: Callable[[np.ndarray], np.ndarray] | None = None):
        self.config = config or ScorerConfig()
        self.commentary = commentary

    @property
    def trained(self) -> bool:
        return bool(self.config.training)

    def misfit(self, keys: dict) -> str | None:
        """Why this scorer may not serve beside a stance model with these fit keys (``StanceModel.fit_keys``),
        or None: the prior reads any; a trained scorer only the encoder, head and commentary decision it was
        fitted to (what it does not record, or ``keys`` does not give, is taken on trust)."""
        c = self.config
        for key, what in (("encoder_checksum", "encoder weights"), ("head_checksum", "stance head")):
            want, got = getattr(c, key), keys.get(key)
            if want is not None and got is not None and want != got:
                return f"was fitted to {what} {want[:12]}, but the stance model's are {got[:12]}"
        got = keys.get("decision")
        if c.decision is not None and got is not None and c.decision != got:
            return (f"was fitted to the commentary decision {json.dumps(c.decision, sort_keys=True)}, but the stance "
                    f"model decides by {json.dumps(got, sort_keys=True)}")
        return None

    def fits(self, encoder_checksum: str | dict) -> bool:
        """``misfit`` is None (a bare encoder checksum checks the encoder alone)."""
        keys = {"encoder_checksum": encoder_checksum} if isinstance(encoder_checksum, str) else encoder_checksum
        return self.misfit(keys) is None

    def scores(self, article: Article, embeddings: np.ndarray,
               others: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """Salience in [0, 1] for each body sentence."""
        scorer = self.config.multi if others and self.config.multi is not None else self.config.single
        probs = self.commentary(embeddings) if self.commentary is not None else None
        feats = sentence_features(article, embeddings, others, probs, self.config.support_threshold)
        return score_sentences(scorer, feats, embeddings[body_indices(article)])

    def summarize(
        self,
        article: Article,
        embeddings: np.ndarray,
        *,
        max_sentences: int | None = 3,
        max_words: int | None = None,
        allowed: Sequence[bool] | None = None,
    ) -> list[SummarySentence]:
        """Pick sentences by MMR within the budgets (either may be None; both are honoured exactly), each
        readable alone; ``allowed`` (per sentence) can exclude some."""
        body = body_indices(article)
        if not body:
            return []
        sal = self.scores(article, embeddings)
        pool = [Candidate(0, k, i, len(article.sentences[i].text.split()), float(sal[k]))
                for k, i in enumerate(body) if allowed is None or allowed[i]]
        contexts = [Context.of([article.sentences[i].text for i in body])] if self.config.coherent else None
        cands = with_antecedents(self.cap(pool), pool, contexts)
        emb = embeddings[[c.index for c in cands]] if cands else np.zeros((0, embeddings.shape[1]))
        chosen = mmr_select(cands, emb, lam=self.config.mmr_lambda, max_sentences=max_sentences,
                            max_words=max_words, contexts=contexts)
        out = []
        for c in sorted((cands[j] for j in chosen), key=lambda c: c.index):
            s = article.sentences[c.index]
            out.append(SummarySentence(s.index, s.text, s.start, s.end, round(c.score, 4)))
        return out

    def cap(self, cands: list[Candidate]) -> list[Candidate]:
        """The ``max_candidates`` most salient candidates (MMR then costs O(budget x cap))."""
        if len(cands) <= self.config.max_candidates:
            return cands
        return sorted(cands, key=lambda c: -c.score)[: self.config.max_candidates]

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        def scorer_dict(scorer: Scorer | SequenceScorer, name: str) -> dict:
            return scorer.to_dict(f"{name}.safetensors") if is_sequence_scorer(scorer) else scorer.to_dict()

        return {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(FEATURES),
                "single": scorer_dict(self.config.single, "single"),
                "multi": scorer_dict(self.config.multi, "multi") if self.config.multi is not None else None,
                "mmr_lambda": self.config.mmr_lambda, "max_candidates": self.config.max_candidates,
                "coherent": self.config.coherent,
                "encoder_checksum": self.config.encoder_checksum, "head_checksum": self.config.head_checksum,
                "decision": self.config.decision, "support_threshold": self.config.support_threshold,
                "training": self.config.training}

    def save_pretrained(self, directory: str | os.PathLike, card: str | None = None,
                        extra_files: dict[str, str] | None = None) -> Path:
        with atomic_dir(directory) as tmp:
            (tmp / "config.json").write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
            for name in ("single", "multi"):
                scorer = getattr(self.config, name)
                if is_sequence_scorer(scorer):
                    scorer.save_weights(tmp / f"{name}.safetensors")
            if card:
                (tmp / "README.md").write_text(card)
            for name, text in (extra_files or {}).items():
                (tmp / name).write_text(text)
        return Path(directory).resolve()

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ExtractiveSummarizer:
        path = Path(directory) / "config.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"cannot read summarizer config {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelLoadError(f"{path} is not a presslens summarizer config")
        try:
            if "single" in data:
                single = _scorer_from_dict(data["single"], path.parent)
                multi = _scorer_from_dict(data["multi"], path.parent) if data.get("multi") else None
            else:  # version 1: a dict of linear weights over the raw features
                weights = data.get("weights", {})
                unknown = set(weights) - set(FEATURES) - {"bias"}
                if unknown:
                    raise ValueError(f"unknown features {sorted(unknown)}")
                single = Scorer.linear({k: float(v) for k, v in weights.items() if k != "bias"},
                                       float(weights.get("bias", 0.0)))
                multi = None
            unknown = set(single.features) - set(FEATURES)
            if unknown:
                raise ValueError(f"unknown features {sorted(unknown)}")
            config = ScorerConfig(single=single, multi=multi, mmr_lambda=float(data.get("mmr_lambda", 0.8)),
                                  max_candidates=int(data.get("max_candidates", 64)),
                                  coherent=bool(data.get("coherent", True)),
                                  training=data.get("training", {}) or {},
                                  encoder_checksum=data.get("encoder_checksum"),
                                  head_checksum=data.get("head_checksum"), decision=data.get("decision"),
                                  support_threshold=float(data.get("support_threshold", SUPPORT_THRESHOLD)))
            for key in ("encoder_checksum", "head_checksum"):
                if getattr(config, key) is not None and not isinstance(getattr(config, key), str):
                    raise ValueError(f"{key} must be a string")
            if config.decision is not None and not isinstance(config.decision, dict):
                raise ValueError("decision must be an object")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{path}: malformed summarizer config: {exc}") from exc
        return cls(config)
