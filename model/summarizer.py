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
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .claims import attribute
from .coherence import Context
from .encoder import ModelLoadError
from .io import atomic_dir
from .selection import Candidate, mmr_select, with_antecedents
from .text import Article

if TYPE_CHECKING:
    from .seqscorer import SequenceScorer

FEATURES = (
    "inv_position",      # 1 / (1 + k) for the k-th body sentence
    "rel_position",      # k / (n - 1)
    "first",             # the first body sentence
    "lead3",             # among the first three body sentences
    "para_first",        # opens a paragraph
    "inv_paragraph",     # 1 / (1 + paragraph number)
    "centrality",        # cosine to the article centroid (= mean similarity to all sentences)
    "centrality_z",      # the same, standardised within the article
    "title_similarity",  # cosine to the headline (0 without one)
    "title_overlap",     # share of the sentence's content words that are in the headline
    "has_title",
    "lead_similarity",   # cosine to the first body sentence
    "lexical",           # mean in-article frequency of the sentence's content words (SumBasic)
    "lexical_z",
    "log_words",
    "short",             # fewer than 8 words
    "long",              # more than 40 words
    "quote_fraction",
    "attributed",        # reported speech with a speaker
    "question",
    "dangling",          # opens with a pronoun or connective that needs the previous sentence
    "digits",
    "no_end_punct",      # no closing punctuation: a subheading, caption or fragment
    "capitals",          # share of capitalised words after the first (names, places)
    "support_max",       # best cosine to a sentence of another article on the same event (0 alone)
    "support_count",     # share of the other articles holding a close paraphrase (cosine >= support_threshold)
    "multi",             # 1 when summarising several articles together
    "commentary",        # the stance model's P(writer's commentary) for the sentence (0 without one)
    # the lead, first-class (issue #28): where the sentence sits against the opening block, and how much the
    # article's opening already covers the rest (an article-level gate: high for inverted-pyramid wire reports)
    "first_para",        # in the first paragraph
    "lead_block_similarity",  # cosine to the centroid of the lead block (first paragraph, at most 3 sentences)
    "leadness",          # article level: cosine of the lead block's centroid to the rest's centroid
    "leadness_x_inv_position",  # leadness times inv_position: position counts more in a lead-first article
    "leadness_x_lead3",
    "leadness_x_centrality_z",
)
FORMAT = "presslens-summarizer"
FORMAT_VERSION = 2
#: the support feature's paraphrase cosine in scorers that record none (the hand-set value before calibration);
#: a scorer records the one it was fitted with, and the prior takes the stance checkpoint's calibrated one
SUPPORT_THRESHOLD = 0.6

_STOP = frozenset(
    "a an the of to in and or but is are was were be been being on for that this these those with as by at "
    "from it its he she they them his her their we our you your i me my not no so if than then there here "
    "has have had do does did will would can could may might must shall should said says say also after "
    "before about into over more most some any all one two new just who whom which what when where why how "
    "up out off only very mr mrs ms".split()
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'’-]*")
_DANGLING = re.compile(
    r"^(?:he|she|they|it|his|her|their|its|this|that|these|those|but|and|so|however|also|meanwhile|still|"
    r"yet|instead|then|there|such|both|another|other|others)\b",
    re.IGNORECASE,
)

# The prior used when no trained scorer is shipped: lead-heavy, central, on-topic, not a question.
_PRIOR = {
    "inv_position": 1.5, "first": 0.5, "lead3": 0.5, "centrality_z": 0.4, "title_similarity": 1.0,
    "lexical_z": 0.3, "log_words": 0.2, "question": -1.0, "dangling": -0.4, "quote_fraction": -0.2,
    "short": -0.5, "support_count": 1.0,
}
PRIOR_WEIGHTS = _PRIOR  # public: training blends fitted scorers with it (training/summ_cv.py)


def _content_tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP and len(t) > 1]


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-6 else np.zeros_like(x)


def body_indices(article: Article) -> list[int]:
    return [i for i, s in enumerate(article.sentences) if not s.is_title]


def _paragraph_info(article: Article, body: list[int]) -> tuple[list[int], list[bool]]:
    """Paragraph number and paragraph-opening flag per body sentence (paragraphs are blank-line runs)."""
    text = article.clean_text
    para_no, opens = [], []
    p, last_end = -1, None
    for i in body:
        s = article.sentences[i]
        gap = text[last_end:s.start] if last_end is not None else "\n\n"
        new_para = "\n" in gap
        if new_para:
            p += 1
        para_no.append(p)
        opens.append(new_para)
        last_end = s.end
    return para_no, opens


def support_features(emb: np.ndarray, others: Sequence[np.ndarray],
                     threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
    """(n, 2): best cosine to another article's sentences, and the share of other articles with a close one.

    ``others`` holds each other article's (capped) candidate embeddings, so the cost is linear in ``n``.
    """
    out = np.zeros((len(emb), 2), dtype=np.float32)
    if not others or len(emb) == 0:
        return out
    best_per_article = np.stack(
        [(emb @ o.T).max(1) if len(o) else np.zeros(len(emb), dtype=np.float32) for o in others], axis=1
    )
    out[:, 0] = best_per_article.max(1)
    out[:, 1] = (best_per_article >= threshold).mean(1)
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (float(np.linalg.norm(v)) + 1e-9)


def lead_block(emb: np.ndarray, para_no: Sequence[int], size: int = 3) -> tuple[np.ndarray, float]:
    """(cosine of each sentence to the lead block's centroid, the article's lead-ness).

    The lead block is the first paragraph's sentences, at most ``size`` (the first sentence when the first
    paragraph is longer; the first ``size`` sentences when the text has no paragraphs). Lead-ness is the cosine
    of the block's centroid to the centroid of the sentences after it (0 when nothing follows): needs no
    reference, costs two means, and is high when the opening states what the rest goes on to report.
    """
    n = len(emb)
    k = sum(1 for p in para_no[:size] if p == para_no[0]) if n else 0
    k = max(1, min(k, size, n))
    block = _unit(emb[:k].mean(0))
    rest = emb[k:]
    leadness = float(_unit(rest.mean(0)) @ block) if len(rest) else 0.0
    return emb @ block, leadness


def sentence_features(article: Article, embeddings: np.ndarray,
                      others: Sequence[np.ndarray] | None = None,
                      commentary: np.ndarray | None = None,
                      support_threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
    """(n_body, len(FEATURES)) features for the body sentences; ``embeddings`` covers all sentences.

    ``others``: embeddings of candidate sentences from other articles on the same event (coverage mode).
    ``commentary``: P(commentary) per sentence (all sentences, as ``embeddings``) from the stance model.
    """
    body = body_indices(article)
    titles = [i for i, s in enumerate(article.sentences) if s.is_title]
    n = len(body)
    feats = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return feats
    emb = embeddings[body]
    centroid = emb.mean(0)
    centroid = centroid / (np.linalg.norm(centroid) + 1e-9)
    central = emb @ centroid
    title_sim = emb @ embeddings[titles[0]] if titles else np.zeros(n, dtype=np.float32)
    lead_sim = emb @ emb[0]
    texts = [article.sentences[i].text for i in body]
    toks = [_content_tokens(t) for t in texts]
    freq = Counter(t for ts in toks for t in set(ts))  # in how many sentences a word occurs
    lexical = np.array([np.mean([freq[t] for t in ts]) / n if ts else 0.0 for ts in toks], dtype=np.float32)
    title_words = set(_content_tokens(article.sentences[titles[0]].text)) if titles else set()
    para_no, opens = _paragraph_info(article, body)
    support = support_features(emb, others or [], support_threshold)
    cols = {name: j for j, name in enumerate(FEATURES)}
    central_z, lexical_z = _zscore(central), _zscore(lexical)
    block_sim, leadness = lead_block(emb, para_no)
    for k, text in enumerate(texts):
        words = text.split()
        att = attribute(text)
        caps = sum(1 for w in words[1:] if w[:1].isupper())
        row = {
            "inv_position": 1.0 / (1.0 + k),
            "rel_position": k / max(1, n - 1),
            "first": float(k == 0),
            "lead3": float(k < 3),
            "para_first": float(opens[k]),
            "inv_paragraph": 1.0 / (1.0 + para_no[k]),
            "centrality": central[k],
            "centrality_z": central_z[k],
            "title_similarity": title_sim[k],
            "title_overlap": (sum(t in title_words for t in toks[k]) / len(toks[k])) if toks[k] else 0.0,
            "has_title": float(bool(titles)),
            "lead_similarity": lead_sim[k],
            "lexical": lexical[k],
            "lexical_z": lexical_z[k],
            "log_words": math.log1p(len(words)),
            "short": float(len(words) < 8),
            "long": float(len(words) > 40),
            "quote_fraction": att.quote_fraction,
            "attributed": float(att.speaker is not None),
            "question": float(text.rstrip(" \"'”’)").endswith("?")),
            "dangling": float(bool(_DANGLING.match(text.lstrip("\"“‘' ")))),
            "digits": float(any(c.isdigit() for c in text)),
            "no_end_punct": float(not re.search(r"[.!?…][\"'”’)\]]*\s*$", text)),
            "capitals": caps / max(1, len(words) - 1),
            "support_max": support[k, 0],
            "support_count": support[k, 1],
            "multi": float(others is not None and len(others) > 0),
            "commentary": float(commentary[body[k]]) if commentary is not None else 0.0,
            "first_para": float(para_no[k] == 0),
            "lead_block_similarity": block_sim[k],
            "leadness": leadness,
            "leadness_x_inv_position": leadness / (1.0 + k),
            "leadness_x_lead3": leadness * float(k < 3),
            "leadness_x_centrality_z": leadness * central_z[k],
        }
        for name, value in row.items():
            feats[k, cols[name]] = value
    return feats


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
