"""Train the extractive summarizer's sentence scorer on greedy-oracle labels.

Each training article (NEWTS CNN/DM articles, the writer summaries, any ``jsonl``) is segmented exactly as
at inference time, embedded with the same encoder, and turned into ``model.summarizer.sentence_features``.
A sentence's label is 1 when the greedy ROUGE-1/2 oracle against the article's references picks it
(at the training budget) and 0 otherwise. Clusters (NeuS) train the *multi-article* scorer: features
include support from the other articles of the cluster and the oracle runs over all of the cluster's
sentences against the neutral roundup.

The scorer is logistic regression (or a small MLP with ``--hidden``) over standardised features, fitted with
scikit-learn and saved as plain JSON numbers in ``config.json``: no pickle.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from presslens.model.io import checksums
from presslens.model.pipeline import split_per_article
from presslens.model.profiles import default_summarizer_path
from presslens.model.summarizer import (
    FEATURES,
    Candidate,
    ExtractiveSummarizer,
    Scorer,
    ScorerConfig,
    body_indices,
    fit_keys_of,
    sentence_features,
    support_cosine,
)
from presslens.model.text import Article

from .arguments import arg
from .data import DataError
from .rouge import oracle
from .seqscorer import (
    SequenceArgs,
    cross_validate_sequences,
    fit_sequence_scorer,
    heldout_rouge,
    mean_rouge,
    sequences_from,
)
from .summ_data import SummDoc, article_key, load_summ


@dataclass
class TrainSummarizerArgs:
    data: list[str] = arg(help="single-article data (repeatable): writers:JSON, sumllm:DIR (or one of its .jsonl "
                               "files), newts:CSV, jsonl:FILE; --cv folds the first one", metavar="FORMAT:PATH",
                          default_factory=list)
    data_weight: list[float] = arg(help="weight of each --data source's sentences in the fit, repeatable in --data "
                                        "order (default 1 each): with 50 writer articles beside 1,000 pool articles, "
                                        "--data-weight 10 --data-weight 1 keeps the writers from being swamped",
                                   metavar="W", default_factory=list)
    cluster_data: list[str] = arg(help="multi-article clusters for the coverage scorer (repeatable): "
                                       "neus:train.source", metavar="FORMAT:PATH", default_factory=list)
    out: str = arg(str(default_summarizer_path()), help="checkpoint directory (written atomically)", metavar="DIR",
                   required=True)
    encoder: str = arg("serving", help="sentence encoder: 'serving' (default: the stance checkpoint's, which the "
                                       "Analyzer embeds with), 'minilm' (the packaged base encoder), a hub id "
                                       "or a directory")
    model: str = arg("", metavar="DIR", help="stance checkpoint whose encoder 'serving' means (default: the "
                                             "shipped one)")
    sentences: int = arg(3, help="oracle budget in sentences (default 3)")
    hidden: int = arg(0, help="hidden width of an MLP scorer (0: logistic regression)")
    c: float = arg(0.1, help="inverse regularisation strength (default 0.1)")
    limit: int = arg(0, help="use at most N documents per data file")
    cluster_limit: int = arg(-1, metavar="N", help="use at most N clusters per --cluster-data file (default: as "
                                                   "--limit)")
    seed: int = arg(13, help="random seed")
    mmr_lambda: float = arg(0.8, help="MMR trade-off salience/novelty (default 0.8)")
    embedding_cache: str = arg("", metavar="FILE.npz", help="reuse sentence embeddings across runs (created if "
                                                            "missing)")
    cache_dir: str = arg("", metavar="DIR", help="embedding caches, one file per encoder checksum (created if "
                                                 "missing)")
    cv: int = arg(0, metavar="K", help="also report K-fold cross-validated ROUGE on the documents of the first "
                                       "--data source (K >= 2); the other sources always train")
    exclude: list[str] = arg(help="held-out evaluation data (repeatable): documents sharing an article with it "
                                  "never train", metavar="FORMAT:PATH", default_factory=list)
    max_sentences: int = arg(0, metavar="N", help="train on the first N sentences of each article of the --data "
                                                  "sources after the first (bounds a rebuild's embedding time; 0: all)")
    scorer: str = arg("linear", choices=("linear", "sequence"),
                      help="linear: logistic regression (or --hidden MLP) per sentence; sequence: a small "
                           "transformer over the article's sentences")
    layers: int = arg(1, help="sequence scorer: transformer layers (default 1)")
    d_model: int = arg(64, help="sequence scorer: width (default 64)")
    epochs: int = arg(12, help="sequence scorer: at most N epochs (the one with the lowest loss on a 5%% slice of "
                               "the training documents is kept)")
    command: str = arg("", cli=False)

    @property
    def seq(self) -> SequenceArgs:
        return SequenceArgs(layers=self.layers, d_model=self.d_model, epochs=self.epochs, seed=self.seed)

    def __post_init__(self) -> None:
        if not self.data and not self.cluster_data:
            raise DataError("give training data with --data FORMAT:PATH (and/or --cluster-data)")
        if self.sentences < 1:
            raise DataError("--sentences must be at least 1")
        if self.cv == 1 or self.cv < 0:
            raise DataError("--cv must be 0 (off) or at least 2 folds")
        if self.data_weight and (len(self.data_weight) != len(self.data) or min(self.data_weight) <= 0):
            raise DataError("--data-weight: give one positive weight per --data source, in the same order")
        if self.hidden < 0 or self.c <= 0:
            raise DataError("--hidden must be >= 0 and --c > 0")
        if self.scorer not in ("linear", "sequence"):
            raise DataError(f"--scorer must be 'linear' or 'sequence', not {self.scorer!r}")
        if self.seq.epochs < 1 or self.seq.layers < 1 or self.seq.d_model < 1 or self.seq.d_model % self.seq.heads:
            raise DataError("--epochs and --layers must be >= 1; --d-model a positive multiple of the heads")


def split_spec(spec: str) -> tuple[str, str]:
    if ":" not in spec:
        raise DataError(f"{spec}: write FORMAT:PATH, e.g. newts:NEWTS_test_600.csv")
    fmt, path = spec.split(":", 1)
    return fmt, path


def file_sha256(path: str) -> str:
    p = Path(path.split(":")[0]) if not Path(path).exists() else Path(path)
    if p.suffix == ".target":
        p = p.with_suffix(".source")
    if not p.is_file():
        return ""
    return hashlib.sha256(p.read_bytes()).hexdigest()


def load_encoder(encoder_ref: str, stance_dir: str | None = None):
    """(encoder, cache key, commentary): ``commentary`` maps embeddings to the stance model's P(commentary)
    ('serving' only; None for a bare encoder). 'serving' is the stance checkpoint's (possibly fine-tuned) encoder: the one the
    Analyzer embeds with at inference, so the scorer is trained and evaluated on the features it is served.
    Its cache key carries the sha256 of the checkpoint's weight files, so cached embeddings follow them.
    """
    if encoder_ref == "serving":
        from presslens.model.profiles import resolve_stance
        from presslens.model.stance import StanceModel

        path = resolve_stance(stance_dir)
        weights = {name: h for name, h in checksums(path).items() if name.endswith(".safetensors")}
        key = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()
        stance = StanceModel.from_pretrained(path)
        return stance.encoder, "serving:" + key, stance.proba_from_embeddings
    from presslens.model.encoder import Encoder

    return Encoder(encoder_ref), encoder_ref, None


def doc_articles(doc: SummDoc) -> list[Article]:
    """The document's articles, segmented as at inference (and cut to ``doc.max_sentences`` if set: the
    sentence list is sliced, so the kept sentences are exactly those of the whole article)."""
    arts = [Article(text, id=f"{doc.id}-{j}", title=(doc.titles[j] if j < len(doc.titles) else None))
            for j, text in enumerate(doc.articles)]
    if doc.max_sentences:
        for a in arts:
            a.sentences = a.sentences[:doc.max_sentences]
    return arts


class EmbeddingCache:
    """Sentence embeddings keyed by the sha256 of the text, kept in an ``.npz`` (byte + float arrays; no pickle).

    Training and evaluation embed tens of thousands of sentences; on a small CPU that is the slow part, and
    re-running with other scorer settings should not pay for it again. The cache is tied to one encoder (a
    file of another encoder is ignored). Keys are fixed 32-byte digests, so the file stays about the size of
    the vectors whatever the sentences' length.
    """

    def __init__(self, path: str | Path | None, encoder_ref: str):
        self.path = Path(path) if path else None
        self.encoder_ref = encoder_ref
        self.table: dict[bytes, np.ndarray] = {}
        if self.path and self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                if "keys" in z.files and str(z["encoder"]) == encoder_ref:
                    self.table = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha256(text.encode("utf-8")).digest()

    @staticmethod
    def file_in(directory: str | Path, encoder_key: str) -> Path | None:
        """The cache file for one encoder in a cache directory: named by the sha256 of the encoder's key."""
        if not directory:
            return None
        Path(directory).mkdir(parents=True, exist_ok=True)
        return Path(directory) / f"emb-{hashlib.sha256(encoder_key.encode()).hexdigest()[:16]}.npz"

    def save(self) -> None:
        if not self.path or not self.table:
            return
        from presslens.model.io import atomic_file

        keys = list(self.table)
        with atomic_file(self.path, durable=False) as tmp, tmp.open("wb") as fh:  # a cache: rebuilt if lost
            np.savez(fh, keys=np.array(keys, dtype="S32"), vectors=np.stack([self.table[k] for k in keys]),
                     encoder=np.array(self.encoder_ref))


def embed_all(encoder, articles: list[Article], batch: int = 4096,
              cache: EmbeddingCache | None = None) -> list[np.ndarray]:
    """One encoder pass over all sentences (chunked; cached ones skipped), split back per article."""
    texts = [s.text for a in articles for s in a.sentences]
    table = cache.table if cache is not None else {}
    keys = [EmbeddingCache.key(t) for t in texts]
    todo = list(dict.fromkeys((k, t) for k, t in zip(keys, texts, strict=True) if k not in table))
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        vecs = encoder.encode([t for _, t in chunk])
        table.update(zip((k for k, _ in chunk), vecs, strict=True))
        if cache is not None:
            cache.save()
    emb = np.stack([table[k] for k in keys]) if texts else np.zeros((0, encoder.dim), dtype=np.float32)
    return split_per_article(emb, articles)


def cluster_others(embs: list[np.ndarray], articles: list[Article], j: int, prior: ExtractiveSummarizer,
                   cap: int = 40) -> list[np.ndarray]:
    """Embeddings of the other articles' candidate sentences (each capped to its ``cap`` most salient)."""
    out = []
    for m, (a, e) in enumerate(zip(articles, embs, strict=True)):
        if m == j:
            continue
        body = body_indices(a)
        if not body:
            out.append(np.zeros((0, e.shape[1]), dtype=np.float32))
            continue
        if len(body) > cap:
            sal = prior.scores(a, e)
            keep = np.sort(np.argsort(-sal)[:cap])
            body = [body[k] for k in keep]
        out.append(e[body])
    return out


def featurize(docs: list[SummDoc], encoder, *, sentences: int, cluster: bool,
              log: Callable[[str], None], cache: EmbeddingCache | None = None,
              units: list | None = None, commentary=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, group) over body sentences; y from the greedy oracle; group = document number.

    ``units`` (optional list) receives (doc, articles, embeddings) per document, for cross-validation.
    """
    prior = ExtractiveSummarizer()
    support = support_cosine(commentary)
    xs, ys, gs = [], [], []
    t0 = time.time()
    per_doc = [doc_articles(d) for d in docs]
    flat = [a for arts in per_doc for a in arts]
    embs_flat = embed_all(encoder, flat, cache=cache)
    log(f"  embedded {sum(len(a.sentences) for a in flat)} sentences of {len(flat)} articles "
        f"in {time.time() - t0:.0f}s")
    pos = 0
    for g, (doc, arts) in enumerate(zip(docs, per_doc, strict=True)):
        embs = embs_flat[pos:pos + len(arts)]
        pos += len(arts)
        if units is not None:
            units.append((doc, arts, embs))
        feats, texts = [], []
        for j, (a, e) in enumerate(zip(arts, embs, strict=True)):
            others = cluster_others(embs, arts, j, prior) if cluster and len(arts) > 1 else None
            feats.append(sentence_features(a, e, others, commentary(e) if commentary is not None else None,
                                           support))
            texts.extend(a.sentences[i].text for i in body_indices(a))
        if not texts:
            continue
        X = np.concatenate(feats)
        # today's training labels: the mean over references, any gain counts
        chosen = oracle(texts, doc.references, k=sentences)
        y = np.zeros(len(texts), dtype=np.float32)
        y[chosen] = 1.0
        xs.append(X)
        ys.append(y)
        gs.append(np.full(len(texts), g))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


def fit_scorer(X: np.ndarray, y: np.ndarray, *, hidden: int, c: float, seed: int,
               weight: np.ndarray | None = None) -> Scorer:
    """Logistic regression (or an MLP, ``hidden`` > 0, which takes no ``weight``) over standardised features."""
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    if hidden:
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1.0 / c, max_iter=400, random_state=seed,
                            early_stopping=True)
        clf.fit(Z, y.astype(int))
        layers = [{"weight": w.T.tolist(), "bias": b.tolist()} for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
    else:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        clf.fit(Z, y.astype(int), sample_weight=weight)
        layers = [{"weight": clf.coef_.tolist(), "bias": clf.intercept_.tolist()}]
    return Scorer(mean=mean.tolist(), scale=scale.tolist(), layers=layers, features=list(FEATURES))


def cross_validate(units: list, X: np.ndarray, y: np.ndarray, g: np.ndarray, *, folded: list[int], folds: int,
                   sentences: int, hidden: int, c: float, seed: int, mmr_lambda: float, commentary=None,
                   weight: np.ndarray | None = None) -> dict:
    """K-fold over the documents ``folded`` (the others always train): ROUGE of the scorer fitted without each
    fold on that fold, beside Lead-N. The honest estimate to quote when the training documents are also the
    evaluation documents.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(folded))
    fold_of = {folded[int(j)]: k % folds for k, j in enumerate(order)}
    scores: dict[str, list[dict]] = {"presslens": [], "lead": []}
    for f in range(folds):
        held = sorted(u for u, k in fold_of.items() if k == f)
        train = ~np.isin(g, held)
        w = weight[train] if weight is not None else None
        summ = ExtractiveSummarizer(ScorerConfig(single=fit_scorer(X[train], y[train], hidden=hidden, c=c,
                                                                   seed=seed, weight=w), mmr_lambda=mmr_lambda),
                                    commentary)
        for name, rows in heldout_rouge(summ, units, held, sentences).items():
            scores[name].extend(rows)
    return mean_rouge(scores) | {"folds": folds, "documents": len(folded)}


def _scorer_description(t: dict) -> list[str]:
    if t.get("scorer") == "sequence":
        seq = t.get("sequence", {})
        return ["A sentence-salience scorer that reads the whole article (`model/seqscorer.py`): each body sentence's",
                "encoder embedding and hand-built features (`model/summarizer.py` FEATURES) go through a "
                f"{seq.get('layers')}-layer transformer",
                f"(width {seq.get('d_model')}) over the article's sentences, with learned positions and the article's "
                "centroid, trained on greedy",
                "ROUGE-1/2 oracle labels. Weights: `single.safetensors` / `multi.safetensors` beside this config; "
                "no pickle."]
    return ["A sentence-salience scorer over hand-built features (see `model/summarizer.py` FEATURES), trained on",
            "greedy ROUGE-1/2 oracle labels. Weights are plain JSON numbers (standardisation mean/scale, then dense",
            "layers); no pickle."]


def model_card(summ: ExtractiveSummarizer) -> str:
    t = summ.config.training
    lines = [
        "# presslens extractive summarizer scorer",
        "",
        *_scorer_description(t),
        "`single` scores sentences of one article; `multi` scores sentences when several articles on one event",
        "are summarised together (it sees cross-article support).",
        "",
        f"- command: `{t.get('command', '')}`",
        f"- single-article data: {', '.join(t.get('data', [])) or 'none'} ({t.get('single_sentences', 0)} sentences)",
        f"- cluster data: {', '.join(t.get('cluster_data', [])) or 'none'} ({t.get('multi_sentences', 0)} sentences)",
        f"- features from encoder: {t.get('encoder')}",
        f"- encoder weights (sha256; served only beside these): {summ.config.encoder_checksum}",
        f"- oracle budget: {t.get('sentences')} sentences; scorer: {t.get('scorer')}"
        + (f" (MLP {t.get('hidden')})" if t.get("hidden") else ""),
        f"- held out from training: {', '.join(t.get('exclude', [])) or 'nothing'}",
        "",
        f"- cross-validation on the single-article data (held-out folds): {json.dumps(t.get('cv'), sort_keys=True)}",
        "",
        "Caveats: NEWTS references are topic-focused (two per article; the oracle uses both); NeuS articles are",
        "the excerpts AllSides shows, not full bodies. When the single-article data is the writer-summaries dev",
        "half, ROUGE on that half is in-sample: quote the cross-validation figures above instead.",
    ]
    return "\n".join(lines) + "\n"


def cap_sentences(sources: list[list[SummDoc]], max_sentences: int) -> list[list[SummDoc]]:
    """Mark each document to train on its articles' first ``max_sentences`` sentences (0 keeps them whole)."""
    for doc in (d for src in sources for d in src):
        doc.max_sentences = max_sentences
    return sources


def load_docs(specs: list[str], limit: int, log: Callable[[str], None]) -> list[list[SummDoc]]:
    out = []
    for spec in specs:
        fmt, path = split_spec(spec)
        d = load_summ(path, fmt)
        if limit:
            d = d[:limit]  # the first N: deterministic, and the embedding cache stays valid
        log(f"{spec}: {len(d)} documents")
        out.append(d)
    return out


def drop_excluded(sources: list[list[SummDoc]], exclude: list[str], log: Callable[[str], None]) -> list[list[SummDoc]]:
    """Remove every document sharing an article with the ``exclude`` sets (held-out evaluation data)."""
    if not exclude:
        return sources
    keys = {article_key(a) for docs in load_docs(exclude, 0, lambda m: None) for d in docs for a in d.articles}
    kept = [[d for d in docs if not any(article_key(a) in keys for a in d.articles)] for docs in sources]
    log(f"  excluded {sum(map(len, sources)) - sum(map(len, kept))} documents that share an article with "
        f"{', '.join(exclude)}")
    return kept


def _fit_single(args: TrainSummarizerArgs, sources: list[list[SummDoc]], encoder, cache, commentary,
                training: dict, log: Callable[[str], None]):
    docs = [d for src in sources for d in src]
    units: list = []
    X, y, g = featurize(docs, encoder, sentences=args.sentences, cluster=False, log=log, cache=cache, units=units,
                        commentary=commentary)
    training["single_sentences"] = int(len(y))
    training["single_positive"] = int(y.sum())
    folded = list(range(len(sources[0])))  # cross-validation folds the first source; the rest always trains
    weight = None
    if args.data_weight:
        per_doc = np.concatenate([np.full(len(src), w, dtype=np.float64)
                                  for src, w in zip(sources, args.data_weight, strict=True)])
        weight = per_doc[g]
        training["data_weight"] = list(args.data_weight)
    if args.scorer == "sequence":
        seqs = sequences_from(X, y, g, units)
        if args.cv:
            training["cv"] = cross_validate_sequences(seqs, units, folded, folds=args.cv, args=args.seq,
                                                      sentences=args.sentences, mmr_lambda=args.mmr_lambda, log=log,
                                                      commentary=commentary)
            log(f"  {args.cv}-fold cross-validation (held-out folds): {json.dumps(training['cv'], sort_keys=True)}")
        scorer, training["single_fit"] = fit_sequence_scorer(seqs, args.seq, log)
        return scorer
    if args.cv:
        training["cv"] = cross_validate(units, X, y, g, folded=folded, folds=args.cv, sentences=args.sentences,
                                        hidden=args.hidden, c=args.c, seed=args.seed, mmr_lambda=args.mmr_lambda,
                                        commentary=commentary, weight=weight)
        log(f"  {args.cv}-fold cross-validation (held-out folds): {json.dumps(training['cv'], sort_keys=True)}")
    return fit_scorer(X, y, hidden=args.hidden, c=args.c, seed=args.seed, weight=weight)


def _fit_multi(args: TrainSummarizerArgs, docs: list[SummDoc], encoder, cache, commentary, training: dict,
               log: Callable[[str], None]):
    units: list = []
    X, y, g = featurize(docs, encoder, sentences=args.sentences, cluster=True, log=log, cache=cache, units=units,
                        commentary=commentary)
    training["multi_sentences"] = int(len(y))
    training["multi_positive"] = int(y.sum())
    if args.scorer == "sequence":
        scorer, training["multi_fit"] = fit_sequence_scorer(sequences_from(X, y, g, units), args.seq, log)
        return scorer
    return fit_scorer(X, y, hidden=args.hidden, c=args.c, seed=args.seed)


def train_summarizer(args: TrainSummarizerArgs, log: Callable[[str], None] | None = None) -> Path:
    log = log or (lambda m: print(m, file=sys.stderr))
    t0 = time.time()
    encoder, encoder_key, commentary = load_encoder(args.encoder, args.model or None)
    cache = EmbeddingCache(args.embedding_cache or EmbeddingCache.file_in(args.cache_dir, encoder_key), encoder_key)
    # The first source is the one cross-validation scores: always whole. The others (the training pool) may
    # be capped to their first sentences, which bounds the embedding time of a rebuild from scratch.
    first, pool = (drop_excluded(load_docs(specs, args.limit, log), args.exclude, log)
                   for specs in (args.data[:1], args.data[1:]))
    single_sources = first + cap_sentences(pool, args.max_sentences)
    cluster_limit = args.limit if args.cluster_limit < 0 else args.cluster_limit
    cluster_docs = [d for src in drop_excluded(load_docs(args.cluster_data, cluster_limit, log), args.exclude, log)
                    for d in src]
    training = {"command": args.command, "data": list(args.data), "cluster_data": list(args.cluster_data),
                "exclude": list(args.exclude),
                "data_sha256": {s: file_sha256(split_spec(s)[1]) for s in args.data + args.cluster_data + args.exclude},
                "encoder": args.encoder if args.encoder != "serving" else f"serving ({encoder_key})",
                "sentences": args.sentences, "max_sentences": args.max_sentences, "scorer": args.scorer, "seed": args.seed, "limit": args.limit,
                "cluster_limit": cluster_limit}
    training |= {"sequence": asdict(args.seq)} if args.scorer == "sequence" else {"hidden": args.hidden, "c": args.c}
    config = ScorerConfig(mmr_lambda=args.mmr_lambda)
    if any(single_sources):
        config.single = _fit_single(args, single_sources, encoder, cache, commentary, training, log)
    if cluster_docs:
        config.multi = _fit_multi(args, cluster_docs, encoder, cache, commentary, training, log)
        if not any(single_sources):
            config.single = config.multi
    config.training = training
    config.encoder_checksum = encoder.checksum()  # served only beside this very encoder
    for name, value in fit_keys_of(commentary).items():  # and the head, decision and support cosine it read
        setattr(config, name, value)
    summ = ExtractiveSummarizer(config)
    path = summ.save_pretrained(args.out, card=model_card(summ), extra_files={
        "training_args.json": json.dumps(asdict(args), indent=2, sort_keys=True) + "\n"})
    log(f"wrote {path} ({time.time() - t0:.0f}s)")
    return path


__all__ = ["Candidate", "TrainSummarizerArgs", "featurize", "fit_scorer", "train_summarizer"]
