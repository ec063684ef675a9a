"""Choose the summarizer for the worst source, not the average (issue #28).

Several sources of reference summaries disagree on how much the lead matters: the writer summaries (articles
that often do not lead with the point), SumLLM CNN/DM (wire-style reports whose first sentences are the
summary), NEWTS (CNN/DM with topic-focused references) and the NeuS clusters (the coverage summary). A
recipe (features, regularisation, each source's share of the fit, and how far the fit may move from the
hand-set prior) is scored by a joint K-fold cross-validation: every source's documents are dealt into K
folds, a scorer is fitted on the other folds of all sources, and each held-out document is summarised as at
inference (MMR, readable-alone selection) and scored with ROUGE beside the lead baselines. A recipe's
figure of merit is its **smallest** ROUGE-1 margin over the lead across sources.

Starting from the prior: the fitted logistic regression is blended with the prior's logits,
``mix * fitted + (1 - mix) * prior`` (both are linear in the raw features, so the blend is again one linear
``Scorer`` and the checkpoint format does not change); ``mix = 0`` is the prior itself, so training moves
away from it only as far as cross-validation pays. Sources weigh by their *share* of the fit (Xing et al.
2021: one extractor balanced across datasets with different lead bias), whatever their size.

The writer articles are split once, by a hash of their id, into a part used for choosing and an *unseen*
part (``UNSEEN_SHARE``) that no choice looks at; it is scored at the end only, like gpt4/val and NeuS test.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from presslens.model.coverage import event_summary
from presslens.model.summarizer import (
    FEATURES,
    PRIOR_WEIGHTS,
    ExtractiveSummarizer,
    Scorer,
    ScorerConfig,
    body_indices,
)

from .rouge import sentence_scores
from .summ_data import Rouge, SummDoc, article_key, load_summ, reference_lines
from .summarizer import EmbeddingCache, featurize, fit_scorer

UNSEEN_SHARE = 0.3  # of the writer articles, by id hash: never used for choosing
LEAD_FEATURES = ("first_para", "lead_block_similarity", "leadness", "leadness_x_inv_position",
                 "leadness_x_lead3", "leadness_x_centrality_z")
BASE_FEATURES = tuple(f for f in FEATURES if f not in LEAD_FEATURES)


def is_unseen_writer(article_id: str) -> bool:
    """The fixed unseen part of the writer articles (about ``UNSEEN_SHARE`` of them, by sha256 of the id)."""
    h = int(hashlib.sha256(str(article_id).encode()).hexdigest()[:8], 16)
    return (h % 1000) < UNSEEN_SHARE * 1000


def exclude_keys(docs: Sequence[SummDoc], held: Sequence[Sequence[SummDoc]]) -> list[SummDoc]:
    """``docs`` without any document sharing an article with the ``held`` sets, by article key (the first
    200 normalised characters) and by the sha256 of the whole normalised text."""
    def keys(text: str) -> tuple[str, str]:
        norm = " ".join(text.lower().split())
        return article_key(text), hashlib.sha256(norm.encode()).hexdigest()

    banned = {k for docs_ in held for d in docs_ for a in d.articles for k in keys(a)}
    return [d for d in docs if not any(k in banned for a in d.articles for k in keys(a))]


WRITERS = "llm_news_summ_benchmark_writers/writer_summaries_dev.json"
# never trained on or looked at while choosing (relative to the shared data directory)
EVAL_SETS = {"gpt4-val": ("sumllm", "sumllm_cnndm/gpt4/val.jsonl"), "gpt3-val": ("sumllm", "sumllm_cnndm/gpt3/val.jsonl"),
             "neus-test": ("neus", "neus_allsides_mds/test.source"), "neus-val": ("neus", "neus_allsides_mds/val.source")}


def choosing_sources(data: str, *, writers: int = 0, sumllm: int = 100, newts: int = 60,
                     neus: int = 100) -> dict[str, list[SummDoc]]:
    """The choosing sources' documents (the first N of each; ``writers`` 0: all) and the unseen writer
    articles, every article of an evaluation set (``EVAL_SETS``) excluded from all of them by key and text
    hash, and the sources deduplicated against each other (the pool against NEWTS and the writers)."""
    held = [load_summ(f"{data}/{path}", fmt) for fmt, path in EVAL_SETS.values() if Path(f"{data}/{path}").exists()]
    every_writer = exclude_keys(load_summ(f"{data}/{WRITERS}", "writers"), held)
    unseen = [w for w in every_writer if is_unseen_writer(w.id)][:writers or None]
    choose = [w for w in every_writer if not is_unseen_writer(w.id)][:writers or None]
    newts_all = exclude_keys(load_summ(f"{data}/newts/NEWTS_test_600.csv", "newts"), [*held, every_writer])
    pool = exclude_keys(load_summ(f"{data}/sumllm_cnndm", "sumllm"), [*held, every_writer, newts_all])
    clusters = exclude_keys(load_summ(f"{data}/neus_allsides_mds/train.source", "neus"), held)
    return {"writers": choose, "sumllm": pool[:sumllm], "newts": newts_all[:newts], "neus": clusters[:neus],
            "writers-unseen": unseen}


@dataclass
class Source:
    """One source's documents, segmented, embedded and featurised once (features of body sentences)."""

    name: str
    cluster: bool
    units: list  # (doc, articles, embeddings) per document
    X: np.ndarray
    y: np.ndarray
    g: np.ndarray  # document number within the source, per sentence
    lead: list[dict] = field(default_factory=list)  # per document: the best lead baseline's ROUGE
    lead_name: str = "lead3"
    soft: np.ndarray | None = None  # per sentence: its own ROUGE against the references, scaled per document


def soft_labels(src: Source) -> np.ndarray:
    """Per body sentence (in ``src.X``'s order) its sentence-level ROUGE (``rouge.sentence_scores``), divided
    by the best of its document, so every document's best sentence scores 1."""
    out = np.zeros(len(src.y), dtype=np.float32)
    for u, (doc, arts, _) in enumerate(src.units):
        rows = np.flatnonzero(src.g == u)
        texts = [a.sentences[i].text for a in arts for i in body_indices(a)]
        if not len(rows) or len(texts) != len(rows):
            continue
        s = np.asarray(sentence_scores(texts, doc.references), dtype=np.float32)
        out[rows] = s / s.max() if s.max() > 0 else 0.0
    return out


def prepare_source(name: str, docs: list[SummDoc], encoder, commentary, cache: EmbeddingCache, *,
                   cluster: bool, sentences: int = 3, log: Callable[[str], None] = lambda m: None) -> Source:
    units: list = []
    X, y, g = featurize(docs, encoder, sentences=sentences, cluster=cluster, log=log, cache=cache, units=units,
                        commentary=commentary)
    src = Source(name, cluster, units, X, y, g)
    src.lead_name, src.lead = lead_scores(src, sentences)
    src.soft = soft_labels(src)
    return src


def _lead_picks(arts, sentences: int, cluster: bool) -> dict[str, list[str]]:
    """Each lead baseline's picks. A cluster source gets every baseline for every document, a one-article
    cluster included (where they coincide), so each baseline has one score per document."""
    bodies = [[a.sentences[i].text for i in body_indices(a)] for a in arts]
    out = {"lead3": bodies[0][:sentences]}
    if cluster:
        out["lead1_each"] = [b[0] for b in bodies if b]
        rr, depth = [], 0
        while len(rr) < sentences and any(depth < len(b) for b in bodies):
            rr.extend(b[depth] for b in bodies if depth < len(b) and len(rr) < sentences)
            depth += 1
        out["lead_round_robin"] = rr
    return out


def lead_scores(src: Source, sentences: int) -> tuple[str, list[dict]]:
    """The lead baseline with the best mean ROUGE-1 on this source, and its ROUGE per document."""
    rouge = Rouge()
    per: dict[str, list[dict]] = {}
    for doc, arts, _ in src.units:
        refs = [reference_lines(r) for r in doc.references]
        for name, picked in _lead_picks(arts, sentences, src.cluster).items():
            per.setdefault(name, []).append(rouge.score(picked, refs))
    best = max(per, key=lambda n: np.mean([r["rouge1"] for r in per[n]]))
    return best, per[best]


@dataclass(frozen=True)
class Recipe:
    """How the scorer is fitted: feature set, inverse regularisation, blend with the prior, source shares."""

    features: tuple[str, ...] = FEATURES
    c: float = 0.1
    mix: float = 1.0  # weight of the fitted scorer against the prior (0: the prior alone)
    shares: tuple[tuple[str, float], ...] = ()  # (source, share of the single-article fit); absent: 0
    multi_mix: float = 1.0  # the same blend for the coverage (multi-article) scorer
    soft: float = 0.0  # weight of the sentence-level ROUGE target against the oracle's 0/1 (Grenander et al.)

    def share(self, name: str) -> float:
        return dict(self.shares).get(name, 0.0)

    def to_dict(self) -> dict:
        return {"features": "all" if self.features == FEATURES else list(self.features), "c": self.c,
                "mix": self.mix, "shares": dict(self.shares), "multi_mix": self.multi_mix, "soft": self.soft}


def blend_with_prior(fitted: Scorer, mix: float, prior: dict[str, float] | None = None) -> Scorer:
    """``mix * fitted + (1 - mix) * prior`` as one linear scorer over ``fitted``'s standardisation."""
    prior = PRIOR_WEIGHTS if prior is None else prior
    names = list(fitted.features)
    missing = set(prior) - set(names)
    if missing:
        raise ValueError(f"the fitted scorer lacks the prior's features {sorted(missing)}")
    if len(fitted.layers) != 1:
        raise ValueError("only a linear scorer blends with the prior")
    m, s = np.asarray(fitted.mean), np.asarray(fitted.scale)
    w_fit = np.asarray(fitted.layers[0]["weight"][0], dtype=np.float64)
    b_fit = float(fitted.layers[0]["bias"][0])
    p = np.array([prior.get(f, 0.0) for f in names])
    # prior logit = p . x = (p * s) . z + p . m, with z = (x - m) / s the fitted scorer's input
    w = mix * w_fit + (1.0 - mix) * p * s
    b = mix * b_fit + (1.0 - mix) * float(p @ m)
    return Scorer(mean=list(map(float, m)), scale=list(map(float, s)),
                  layers=[{"weight": [w.tolist()], "bias": [b]}], features=names)


def _fit(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, recipe: Recipe, mix: float,
         seed: int) -> Scorer:
    """Logistic regression on the recipe's features, widened to every feature (zero weights), then blended.
    Targets between 0 and 1 (soft labels) fit as each row twice, once a positive weighted by the target and
    once a negative weighted by its complement."""
    cols = [FEATURES.index(f) for f in recipe.features]
    weight = np.ones(len(y)) if weight is None else weight
    if np.any((y > 0) & (y < 1)):
        X, y, weight = np.concatenate([X, X]), np.concatenate([np.ones(len(y)), np.zeros(len(y))]), \
            np.concatenate([weight * y, weight * (1 - y)])
        keep = weight > 0
        X, y, weight = X[keep], y[keep], weight[keep]
    small = fit_scorer(X[:, cols], y, hidden=0, c=recipe.c, seed=seed, weight=weight)
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-6] = 1.0
    w = np.zeros(len(FEATURES))
    w[cols] = small.layers[0]["weight"][0]
    mean[cols], scale[cols] = small.mean, small.scale
    full = Scorer(mean=mean.tolist(), scale=scale.tolist(), features=list(FEATURES),
                  layers=[{"weight": [w.tolist()], "bias": list(small.layers[0]["bias"])}])
    return blend_with_prior(full, mix)


def fit_recipe(sources: Sequence[Source], recipe: Recipe, train_docs: dict[str, np.ndarray] | None = None,
               seed: int = 13) -> tuple[Scorer, Scorer | None]:
    """(single, multi) scorers fitted on the sources' documents (``train_docs``: per source, a boolean mask
    over its documents; default all). Single-article sources weigh by their recipe share; clusters fit the
    coverage scorer."""
    xs, ys, ws, cx, cy = [], [], [], [], []
    for src in sources:
        keep = np.ones(len(src.y), bool) if train_docs is None else train_docs[src.name][src.g]
        target = src.y if not recipe.soft or src.soft is None else (1 - recipe.soft) * src.y + recipe.soft * src.soft
        if src.cluster:
            cx.append(src.X[keep])
            cy.append(target[keep])
        elif recipe.share(src.name) > 0 and keep.any():
            xs.append(src.X[keep])
            ys.append(target[keep])
            ws.append(np.full(int(keep.sum()), recipe.share(src.name) / keep.sum()))
    if not xs:
        single = Scorer.linear(PRIOR_WEIGHTS)
    else:
        w = np.concatenate(ws)
        single = _fit(np.concatenate(xs), np.concatenate(ys), w * len(w) / w.sum(), recipe, recipe.mix, seed)
    multi = _fit(np.concatenate(cx), np.concatenate(cy), None, recipe, recipe.multi_mix, seed) if cx else None
    return single, multi


class _Precomputed(ExtractiveSummarizer):
    """A summarizer whose scores for the next article are given (the features were computed once)."""

    def __init__(self, config: ScorerConfig):
        super().__init__(config)
        self.next_scores: np.ndarray | None = None

    def scores(self, article, embeddings, others=None) -> np.ndarray:
        return self.next_scores


def summarize_unit(summ: _Precomputed, scorer: Scorer, src: Source, u: int, sentences: int) -> list[str]:
    """The summary of document ``u`` of ``src`` (as served: MMR, readable alone) with ``scorer``."""
    doc, arts, embs = src.units[u]
    rows = src.X[src.g == u]
    sal = scorer(rows)
    if not src.cluster:
        summ.next_scores = sal
        return [s.text for s in summ.summarize(arts[0], embs[0], max_sentences=sentences)]
    per, pos = [], 0
    for a in arts:
        n = len(body_indices(a))
        per.append(sal[pos:pos + n])
        pos += n
    return [c.text for c in event_summary(arts, embs, summ, max_sentences=sentences, scores=per)]


def score_units(src: Source, scorer: Scorer, units: Sequence[int], sentences: int = 3,
                mmr_lambda: float = 0.8) -> list[dict]:
    rouge = Rouge()
    summ = _Precomputed(ScorerConfig(mmr_lambda=mmr_lambda))
    out = []
    for u in units:
        refs = [reference_lines(r) for r in src.units[u][0].references]
        out.append(rouge.score(summarize_unit(summ, scorer, src, u, sentences), refs))
    return out


def folds_of(n: int, k: int, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, int)
    fold[order] = np.arange(n) % k
    return fold


def cross_validate(sources: Sequence[Source], recipe: Recipe, *, folds: int = 5, seed: int = 13,
                   sentences: int = 3, train_limit: dict[str, int] | None = None) -> dict[str, dict]:
    """Per source: mean ROUGE of presslens on held-out folds, of its best lead, and the margins.

    ``train_limit``: per source, train on (the training folds' part of) its first N documents only; every
    document is still scored (the learning curve)."""
    fold = {s.name: folds_of(len(s.units), folds, seed) for s in sources}
    limit = {s.name: (train_limit or {}).get(s.name, len(s.units)) for s in sources}
    rows: dict[str, list[tuple[int, dict]]] = {s.name: [] for s in sources}
    for f in range(folds):
        train = {name: (fo != f) & (np.arange(len(fo)) < limit[name]) for name, fo in fold.items()}
        single, multi = fit_recipe(sources, recipe, train, seed)
        for src in sources:
            held = np.flatnonzero(fold[src.name] == f).tolist()
            scorer = multi if src.cluster and multi is not None else single
            rows[src.name].extend(zip(held, score_units(src, scorer, held, sentences), strict=True))
    return {src.name: summary_row(src, [r for _, r in sorted(rows[src.name], key=lambda t: t[0])])
            for src in sources}


def summary_row(src: Source, scores: list[dict], units: Sequence[int] | None = None) -> dict:
    units = list(range(len(src.units))) if units is None else list(units)
    lead = [src.lead[u] for u in units]
    out = {"documents": len(units), "baseline": src.lead_name}
    for t in ("rouge1", "rouge2"):
        p, b = float(np.mean([r[t] for r in scores])), float(np.mean([r[t] for r in lead]))
        out[t] = {"presslens": round(p, 2), "lead": round(b, 2), "margin": round(p - b, 2)}
    return out


def worst_margin(result: dict[str, dict], metric: str = "rouge1") -> float:
    return min(r[metric]["margin"] for r in result.values())


def sweep(sources: Sequence[Source], recipes: dict[str, Recipe], *, folds: int = 5, seed: int = 13,
          log: Callable[[str], None] = print, done: dict | None = None) -> dict[str, dict]:
    """Cross-validate every recipe (``done``: results already computed, kept); returns name -> result."""
    results = dict(done or {})
    for name, recipe in recipes.items():
        if name in results:
            continue
        t0 = time.time()
        res = cross_validate(sources, recipe, folds=folds, seed=seed)
        results[name] = {"recipe": recipe.to_dict(), "sources": res, "worst_rouge1": worst_margin(res),
                         "worst_rouge2": worst_margin(res, "rouge2")}
        per = ", ".join(f"{k} {v['rouge1']['margin']:+.2f}" for k, v in res.items())
        log(f"{name}: worst R1 margin {results[name]['worst_rouge1']:+.2f} ({per}) [{time.time() - t0:.0f}s]")
    return results


def table(results: dict[str, dict], names: Sequence[str] | None = None) -> str:
    """Markdown: per recipe, each source's ROUGE-1 / ROUGE-2 margin over its best lead, and the worst."""
    names = list(names or sorted(results, key=lambda n: -results[n]["worst_rouge1"]))
    srcs = list(results[names[0]]["sources"]) if names else []
    head = ["recipe", *[f"{s} R1 / R2" for s in srcs], "worst R1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in names:
        r = results[n]["sources"]
        cells = [f"{r[s]['rouge1']['margin']:+.2f} / {r[s]['rouge2']['margin']:+.2f}" for s in srcs]
        lines.append("| " + " | ".join([n, *cells, f"{results[n]['worst_rouge1']:+.2f}"]) + " |")
    return "\n".join(lines)


def dumps(results: dict) -> str:
    return json.dumps(results, indent=2, sort_keys=True) + "\n"
