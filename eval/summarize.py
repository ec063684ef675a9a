"""``presslens eval summarize``: ROUGE of presslens summaries and baselines against human references.

ROUGE is rouge-score with the Porter stemmer; F-measures x100; for several references the best score per
document; ``rougeLsum`` compares newline-separated sentences (candidate sentences as selected, references
split with the same segmenter the articles use). Scores are averaged over documents.

Systems, single articles (``writers``, ``newts``, ``jsonl``): ``presslens`` (the shipped or given scorer,
MMR, every sentence readable alone), ``no_coherence`` (ablation: the same scorer, plain MMR without the
readable-alone rule), ``prior`` (ablation: the same selection with the untrained prior weights), ``lead3`` (the first N
body sentences), ``textrank``, ``centroid`` (top N by similarity to the article centroid) and ``oracle``
(greedy ROUGE-1/2 oracle, an upper bound). Clusters (``neus``): ``presslens`` is the coverage event summary;
``lead3`` takes the first N sentences of the first article, ``lead1_each`` the first sentence of each
article, ``lead_round_robin`` the articles' first sentences, then second ones, up to N.

The report goes through the shared layer (``eval/report.py``): ``metrics.json`` (per system
``rouge1``/``rouge2``/``rougeLsum`` with 95% bootstrap CIs, and a paired bootstrap of presslens against the
strongest baseline), ``report.md``, ``predictions.csv`` (every system's summary and ROUGE per document),
``rouge.png`` and ``run.json``. Beside ROUGE, every system gets the share of its summary sentences that
**dangle** (``eval.metrics.dangling_openers``, the rule of ``model.coherence``: an opening pronoun or
connective whose referent is outside the summary): per document in ``predictions.csv`` (``sentences``,
``dangling``), per system in ``metrics.json`` (``coherence``), with examples in ``report.md``. Baselines come from ``eval/baselines.py`` (Lead-3, TextRank over the
encoder's embeddings, the greedy oracle).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SYSTEMS_SINGLE = ("presslens", "no_coherence", "prior", "lead3", "textrank", "centroid", "oracle")
SYSTEMS_CLUSTER = ("presslens", "no_coherence", "lead3", "lead1_each", "lead_round_robin", "oracle")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from presslens.training.summ_data import SUMM_FORMATS

    parser.add_argument("--data", required=True, metavar="PATH",
                        help="references: writers JSON, NeuS .source/.target (or DIR:split), NEWTS CSV, or jsonl")
    parser.add_argument("--format", required=True, choices=SUMM_FORMATS)
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory")
    parser.add_argument("--sentences", type=int, default=3, help="summary budget in sentences (default 3)")
    parser.add_argument("--words", type=int, default=None, help="also cap the presslens summary at N words")
    parser.add_argument("--summarizer", default=None, metavar="DIR", help="summarizer checkpoint (default: shipped)")
    parser.add_argument("--encoder", default="serving",
                        help="sentence encoder: 'serving' (default: the encoder the Analyzer uses, i.e. that of the "
                             "stance checkpoint, so the eval measures what users get), 'minilm' (the packaged base encoder), a hub id or a directory")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="stance checkpoint whose encoder 'serving' means (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate the first N documents only")
    parser.add_argument("--no-oracle", action="store_true", help="skip the greedy oracle")
    parser.add_argument("--embedding-cache", default="", metavar="FILE.npz",
                        help="reuse sentence embeddings across runs (created if missing)")
    parser.add_argument("--cache-dir", default="", metavar="DIR",
                        help="embedding caches, one file per encoder checksum (created if missing)")


def _data_files(path: str, fmt: str) -> list[Path]:
    if fmt == "neus":
        from presslens.training.summ_data import neus_paths

        return list(neus_paths(path))
    if fmt == "sumllm" and Path(path).is_dir():
        from presslens.training.summ_data import SUMLLM_FILES

        return [Path(path) / f for f in SUMLLM_FILES if (Path(path) / f).is_file()]
    return [Path(path)]


def lead_round_robin(per_article: list[list[str]], n: int) -> list[str]:
    out: list[str] = []
    depth = 0
    while len(out) < n and any(depth < len(s) for s in per_article):
        out.extend(s[depth] for s in per_article if depth < len(s) and len(out) < n)
        depth += 1
    return out


Picks = list[tuple[int, int]]  # a summary as (article number, sentence index) pairs, in article order


def _single_picks(a, em: np.ndarray, systems: dict, sentences: int, words: int | None) -> dict[str, Picks]:
    from presslens.model.summarizer import body_indices

    from .baselines import lead, textrank

    body_idx = body_indices(a)
    body, bemb = [a.sentences[i].text for i in body_idx], em[body_idx]
    out = {name: [(0, s.index) for s in summ.summarize(a, em, max_sentences=sentences, max_words=words)]
           for name, summ in systems.items()}
    out["lead3"] = [(0, body_idx[k]) for k in lead(body, sentences)]
    out["textrank"] = [(0, body_idx[k]) for k in textrank(body, sentences, embeddings=bemb)] if body else []
    c = bemb.mean(0) if body else None
    out["centroid"] = [(0, body_idx[k]) for k in sorted(np.argsort(-(bemb @ c), kind="stable")[:sentences])] \
        if body else []
    return out


def _cluster_picks(arts, e, systems: dict, sentences: int, words: int | None) -> dict[str, Picks]:
    from presslens.model.coverage import event_summary
    from presslens.model.summarizer import body_indices

    from .baselines import lead

    bodies = [body_indices(a) for a in arts]
    out = {name: [(c.article_index, c.index) for c in event_summary(arts, e, summ, max_sentences=sentences,
                                                                    max_words=words)]
           for name, summ in systems.items() if name != "prior"}
    out["lead3"] = [(0, bodies[0][k]) for k in lead([arts[0].sentences[i].text for i in bodies[0]], sentences)]
    out["lead1_each"] = [(j, b[0]) for j, b in enumerate(bodies) if b]
    rr = lead_round_robin([[(j, i) for i in b] for j, b in enumerate(bodies)], sentences)
    out["lead_round_robin"] = rr
    return out


def _oracle_picks(arts, references: list[str], sentences: int) -> Picks:
    from presslens.model.summarizer import body_indices
    from presslens.training.rouge import oracle as oracle_selection

    flat = [(j, i) for j, a in enumerate(arts) for i in body_indices(a)]
    texts = [arts[j].sentences[i].text for j, i in flat]
    return [flat[k] for k in oracle_selection(texts, references, sentences)] if flat else []


def _systems(chosen, commentary) -> dict:
    """presslens (the scorer ``choose_summarizer`` serves), its ablations: ``prior`` (untrained weights) and
    ``no_coherence`` (the same scorer, selection without the readable-alone rule)."""
    import dataclasses

    from presslens.model.summarizer import ExtractiveSummarizer

    summ = chosen
    summ.commentary = commentary
    loose = ExtractiveSummarizer(dataclasses.replace(summ.config, coherent=False), commentary)
    return {"presslens": summ, "no_coherence": loose, "prior": ExtractiveSummarizer()}


def evaluate(docs, *, sentences: int, words: int | None, summarizer_dir: str | None, encoder_ref: str,
             oracle: bool = True, log: Callable[[str], None] = lambda m: None,
             embedding_cache: str = "", stance_dir: str | None = None, cache_dir: str = "",
             ) -> tuple[dict[str, list[dict]], dict[str, list[list[str]]], dict[str, list[list[bool]]]]:
    """Per system and document (same order as ``docs``): one ROUGE dict, the summary (list of sentences) and
    per summary sentence whether it dangles (``eval.metrics.dangling_openers``)."""
    from presslens.model.pipeline import choose_summarizer
    from presslens.model.profiles import resolve_stance
    from presslens.training.summarizer import EmbeddingCache, doc_articles, embed_all, load_encoder

    from .metrics import dangling_openers, rouge

    encoder, encoder_key, commentary = load_encoder(encoder_ref, stance_dir)
    # The summarizer the Analyzer would serve beside this encoder (one that does not fit it is refused).
    choice = choose_summarizer(encoder.checksum(), resolve_stance(stance_dir) if encoder_ref == "serving" else None,
                               summarizer_dir)
    log(f"summarizer: {choice.path or 'built-in prior'} ({choice.reason})")
    systems = _systems(choice.summarizer, commentary)
    t0 = time.time()
    per_doc = [doc_articles(d) for d in docs]
    cache = EmbeddingCache(embedding_cache or EmbeddingCache.file_in(cache_dir, encoder_key), encoder_key)
    embs = embed_all(encoder, [a for arts in per_doc for a in arts], cache=cache)
    log(f"embedded {len(embs)} articles in {time.time() - t0:.0f}s")
    scores: dict[str, list[dict]] = {}
    summaries: dict[str, list[list[str]]] = {}
    dangling: dict[str, list[list[bool]]] = {}
    pos = 0
    for doc, arts in zip(docs, per_doc, strict=True):
        e = embs[pos:pos + len(arts)]
        pos += len(arts)
        outputs = (_single_picks(arts[0], e[0], systems, sentences, words) if len(arts) == 1
                   else _cluster_picks(arts, e, systems, sentences, words))
        if oracle:
            outputs["oracle"] = _oracle_picks(arts, doc.references, sentences)
        for name, picks in outputs.items():
            sents = [arts[j].sentences[i].text for j, i in picks]
            scores.setdefault(name, []).append(rouge(sents, doc.references))
            summaries.setdefault(name, []).append(sents)
            dangling.setdefault(name, []).append(dangling_openers(arts, picks))
    log(f"scored {len(docs)} documents in {time.time() - t0:.0f}s")
    return scores, summaries, dangling


def run(ns: argparse.Namespace) -> int:
    from presslens.training.data import DataError
    from presslens.training.summ_data import load_summ

    from .report import write_run_info, write_summary_report

    started = time.time()
    if ns.sentences < 1:
        raise DataError("--sentences must be at least 1")
    if ns.words is not None and ns.words < 1:
        raise DataError("--words must be at least 1")
    docs = load_summ(ns.data, ns.format)
    if ns.limit:
        docs = docs[: ns.limit]
    out = Path(ns.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the report directory: {exc.strerror}") from exc
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    scores, summaries, dangling = evaluate(docs, sentences=ns.sentences, words=ns.words, summarizer_dir=ns.summarizer,
                                 encoder_ref=ns.encoder, stance_dir=ns.model, oracle=not ns.no_oracle, log=log,
                                 embedding_cache=ns.embedding_cache, cache_dir=ns.cache_dir)
    cluster = any(d.is_cluster for d in docs)
    # Ablations ("prior": the same selection with untrained weights) are reported but never the baseline.
    baselines = [s for s in (SYSTEMS_CLUSTER if cluster else SYSTEMS_SINGLE)
                 if s in scores and s not in ("presslens", "prior", "no_coherence", "oracle")]
    settings = {"format": ns.format, "documents": len(docs), "references": sum(len(d.references) for d in docs),
                "unit": "cluster" if cluster else "article", "sentences": ns.sentences, "words": ns.words,
                "summarizer": ns.summarizer or "shipped", "encoder": ns.encoder}
    title = f"Summaries ({ns.format}): {len(docs)} {'clusters' if cluster else 'articles'}, {ns.sentences}-sentence budget"
    metrics = write_summary_report(out, doc_ids=[d.id for d in docs], scores=scores, summaries=summaries,
                                   primary="presslens", ceilings=("oracle",), title=title, extra=settings,
                                   baselines=baselines, dangling=dangling)
    write_run_info(out, _data_files(ns.data, ns.format), seed=0, started=started, extra={"settings": settings})
    flat = {name: {t: round(v["value"], 2) for t, v in m.items()} for name, m in metrics["systems"].items()}
    for name, c in metrics.get("coherence", {}).items():
        flat[name]["dangling_share"] = c["dangling_share"]
    print(json.dumps(flat, indent=2, sort_keys=True))
    return 0
