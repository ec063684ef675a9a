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

from model.io import checksums
from model.summarizer import (
    FEATURES,
    Candidate,
    ExtractiveSummarizer,
    Scorer,
    ScorerConfig,
    body_indices,
    sentence_features,
)
from model.text import Article

from .arguments import arg
from .data import DataError
from .rouge import greedy_oracle
from .summ_data import SummDoc, load_summ


@dataclass
class TrainSummarizerArgs:
    data: list[str] = arg(help="single-article data (repeatable): newts:CSV, writers:JSON, jsonl:FILE",
                          metavar="FORMAT:PATH", default_factory=list)
    cluster_data: list[str] = arg(help="multi-article clusters for the coverage scorer (repeatable): "
                                       "neus:train.source", metavar="FORMAT:PATH", default_factory=list)
    out: str = arg("model/weights/summarizer", help="checkpoint directory (written atomically)", metavar="DIR",
                   required=True)
    encoder: str = arg("serving", help="sentence encoder: 'serving' (default: the stance checkpoint's, which the "
                                       "Analyzer embeds with), 'default' (the packaged base encoder), a hub id "
                                       "or a directory")
    model: str = arg("", metavar="DIR", help="stance checkpoint whose encoder 'serving' means (default: the "
                                             "shipped one)")
    sentences: int = arg(3, help="oracle budget in sentences (default 3)")
    hidden: int = arg(0, help="hidden width of an MLP scorer (0: logistic regression)")
    c: float = arg(0.1, help="inverse regularisation strength (default 0.1)")
    limit: int = arg(0, help="use at most N documents per data file")
    seed: int = arg(13, help="random seed")
    mmr_lambda: float = arg(0.8, help="MMR trade-off salience/novelty (default 0.8)")
    embedding_cache: str = arg("", metavar="FILE.npz", help="reuse sentence embeddings across runs (created if "
                                                            "missing)")
    cv: int = arg(0, metavar="K", help="also report K-fold cross-validated ROUGE on the single-article data "
                                       "(K >= 2)")
    command: str = arg("", cli=False)

    def __post_init__(self) -> None:
        if not self.data and not self.cluster_data:
            raise DataError("give training data with --data FORMAT:PATH (and/or --cluster-data)")
        if self.sentences < 1:
            raise DataError("--sentences must be at least 1")
        if self.cv == 1 or self.cv < 0:
            raise DataError("--cv must be 0 (off) or at least 2 folds")
        if self.hidden < 0 or self.c <= 0:
            raise DataError("--hidden must be >= 0 and --c > 0")


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
    """(encoder, cache key). 'serving' is the stance checkpoint's (possibly fine-tuned) encoder: the one the
    Analyzer embeds with at inference, so the scorer is trained and evaluated on the features it is served.
    Its cache key carries the sha256 of the checkpoint's weight files, so cached embeddings follow them.
    """
    if encoder_ref == "serving":
        from model.pipeline import default_stance_path
        from model.stance import StanceModel

        path = Path(stance_dir) if stance_dir else default_stance_path()
        weights = {name: h for name, h in checksums(path).items() if name.endswith(".safetensors")}
        key = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()
        return StanceModel.from_pretrained(path).encoder, "serving:" + key
    from model.encoder import Encoder

    return Encoder(encoder_ref), encoder_ref


def doc_articles(doc: SummDoc) -> list[Article]:
    return [Article(text, id=f"{doc.id}-{j}", title=(doc.titles[j] if j < len(doc.titles) else None))
            for j, text in enumerate(doc.articles)]


class EmbeddingCache:
    """Sentence embeddings keyed by text, kept in an ``.npz`` (unicode + float arrays; no pickle).

    Training and evaluation embed tens of thousands of sentences; on a small CPU that is the slow part, and
    re-running with other scorer settings should not pay for it again. The cache is tied to one encoder.
    """

    def __init__(self, path: str | Path | None, encoder_ref: str):
        self.path = Path(path) if path else None
        self.encoder_ref = encoder_ref
        self.table: dict[str, np.ndarray] = {}
        if self.path and self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                if str(z["encoder"]) == encoder_ref:
                    self.table = dict(zip(z["texts"].tolist(), z["vectors"], strict=True))

    def save(self) -> None:
        if not self.path or not self.table:
            return
        texts = list(self.table)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, texts=np.array(texts), vectors=np.stack([self.table[t] for t in texts]),
                 encoder=np.array(self.encoder_ref))
        tmp.replace(self.path)


def embed_all(encoder, articles: list[Article], batch: int = 4096,
              cache: EmbeddingCache | None = None) -> list[np.ndarray]:
    """One encoder pass over all sentences (chunked; cached ones skipped), split back per article."""
    texts = [s.text for a in articles for s in a.sentences]
    table = cache.table if cache is not None else {}
    todo = list(dict.fromkeys(t for t in texts if t not in table))
    for i in range(0, len(todo), batch):
        vecs = encoder.encode(todo[i:i + batch])
        table.update(zip(todo[i:i + batch], vecs, strict=True))
        if cache is not None:
            cache.save()
    emb = np.stack([table[t] for t in texts]) if texts else np.zeros((0, encoder.dim), dtype=np.float32)
    out, pos = [], 0
    for a in articles:
        out.append(emb[pos:pos + len(a.sentences)])
        pos += len(a.sentences)
    return out


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
              units: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, group) over body sentences; y from the greedy oracle; group = document number.

    ``units`` (optional list) receives (doc, articles, embeddings) per document, for cross-validation.
    """
    prior = ExtractiveSummarizer()
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
            feats.append(sentence_features(a, e, others))
            texts.extend(a.sentences[i].text for i in body_indices(a))
        if not texts:
            continue
        X = np.concatenate(feats)
        # today's training labels: the mean over references, any gain counts
        chosen = greedy_oracle(texts, doc.references, k=sentences, objective="mean-of-references", min_gain=0.0)
        y = np.zeros(len(texts), dtype=np.float32)
        y[chosen] = 1.0
        xs.append(X)
        ys.append(y)
        gs.append(np.full(len(texts), g))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


def fit_scorer(X: np.ndarray, y: np.ndarray, *, hidden: int, c: float, seed: int) -> Scorer:
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
        clf.fit(Z, y.astype(int))
        layers = [{"weight": clf.coef_.tolist(), "bias": clf.intercept_.tolist()}]
    return Scorer(mean=mean.tolist(), scale=scale.tolist(), layers=layers, features=list(FEATURES))


def cross_validate(units: list, X: np.ndarray, y: np.ndarray, g: np.ndarray, *, folds: int, sentences: int,
                   hidden: int, c: float, seed: int, mmr_lambda: float) -> dict:
    """K-fold by document: ROUGE of the scorer fitted without each fold on that fold, beside Lead-N.

    The honest estimate to quote when the training documents are also the evaluation documents.
    """
    from .summ_data import Rouge, reference_lines

    rouge = Rouge()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(units))
    fold_of = np.empty(len(units), dtype=int)
    fold_of[order] = np.arange(len(units)) % folds
    scores: dict[str, list[dict]] = {"presslens": [], "lead": []}
    for f in range(folds):
        train = np.isin(g, np.nonzero(fold_of != f)[0])
        summ = ExtractiveSummarizer(ScorerConfig(single=fit_scorer(X[train], y[train], hidden=hidden, c=c,
                                                                   seed=seed), mmr_lambda=mmr_lambda))
        for u in np.nonzero(fold_of == f)[0]:
            doc, arts, embs = units[u]
            refs = [reference_lines(r) for r in doc.references]
            a = arts[0]
            picked = [s.text for s in summ.summarize(a, embs[0], max_sentences=sentences)]
            scores["presslens"].append(rouge.score(picked, refs))
            scores["lead"].append(rouge.score([s.text for s in a.body_sentences][:sentences], refs))
    return {name: {t: round(float(np.mean([r[t] for r in rows])), 2) for t in Rouge.TYPES}
            for name, rows in scores.items()} | {"folds": folds, "documents": len(units)}


def model_card(summ: ExtractiveSummarizer) -> str:
    t = summ.config.training
    lines = [
        "# presslens extractive summarizer scorer",
        "",
        "A sentence-salience scorer over hand-built features (see `model/summarizer.py` FEATURES), trained on",
        "greedy ROUGE-1/2 oracle labels. `single` scores sentences of one article; `multi` scores sentences",
        "when several articles on one event are summarised together (it sees cross-article support).",
        "Weights are plain JSON numbers (standardisation mean/scale, then dense layers); no pickle.",
        "",
        f"- command: `{t.get('command', '')}`",
        f"- single-article data: {', '.join(t.get('data', [])) or 'none'} ({t.get('single_sentences', 0)} sentences)",
        f"- cluster data: {', '.join(t.get('cluster_data', [])) or 'none'} ({t.get('multi_sentences', 0)} sentences)",
        f"- features from encoder: {t.get('encoder')}",
        f"- oracle budget: {t.get('sentences')} sentences; scorer: {'MLP ' + str(t.get('hidden')) if t.get('hidden') else 'logistic regression'}",
        "",
        f"- cross-validation on the single-article data (held-out folds): {json.dumps(t.get('cv'), sort_keys=True)}",
        "",
        "Caveats: NEWTS references are topic-focused (two per article; the oracle uses both); NeuS articles are",
        "the excerpts AllSides shows, not full bodies. When the single-article data is the writer-summaries dev",
        "half, ROUGE on that half is in-sample: quote the cross-validation figures above instead.",
    ]
    return "\n".join(lines) + "\n"


def train_summarizer(args: TrainSummarizerArgs, log: Callable[[str], None] | None = None) -> Path:
    log = log or (lambda m: print(m, file=sys.stderr))
    encoder, encoder_key = load_encoder(args.encoder, args.model or None)
    cache = EmbeddingCache(args.embedding_cache or None, encoder_key)

    def load(specs: list[str]) -> list[SummDoc]:
        docs = []
        for spec in specs:
            fmt, path = split_spec(spec)
            d = load_summ(path, fmt)
            if args.limit:
                d = d[: args.limit]  # the first N: deterministic, and the embedding cache stays valid
            log(f"{spec}: {len(d)} documents")
            docs.extend(d)
        return docs

    single_docs = load(args.data)
    cluster_docs = load(args.cluster_data)
    training = {"command": args.command, "data": list(args.data), "cluster_data": list(args.cluster_data),
                "data_sha256": {s: file_sha256(split_spec(s)[1]) for s in args.data + args.cluster_data},
                "encoder": args.encoder if args.encoder != "serving" else f"serving ({encoder_key})",
                "sentences": args.sentences, "hidden": args.hidden, "c": args.c,
                "seed": args.seed, "limit": args.limit}
    config = ScorerConfig(mmr_lambda=args.mmr_lambda)
    if single_docs:
        units: list = []
        X, y, g = featurize(single_docs, encoder, sentences=args.sentences, cluster=False, log=log, cache=cache,
                            units=units)
        if args.cv:
            training["cv"] = cross_validate(units, X, y, g, folds=args.cv, sentences=args.sentences,
                                            hidden=args.hidden, c=args.c, seed=args.seed,
                                            mmr_lambda=args.mmr_lambda)
            log(f"  {args.cv}-fold cross-validation (held-out folds): {json.dumps(training['cv'], sort_keys=True)}")
        config.single = fit_scorer(X, y, hidden=args.hidden, c=args.c, seed=args.seed)
        training["single_sentences"] = int(len(y))
        training["single_positive"] = int(y.sum())
    if cluster_docs:
        X, y, _ = featurize(cluster_docs, encoder, sentences=args.sentences, cluster=True, log=log, cache=cache)
        config.multi = fit_scorer(X, y, hidden=args.hidden, c=args.c, seed=args.seed)
        training["multi_sentences"] = int(len(y))
        training["multi_positive"] = int(y.sum())
        if not single_docs:
            config.single = config.multi
    config.training = training
    summ = ExtractiveSummarizer(config)
    path = summ.save_pretrained(args.out, card=model_card(summ), extra_files={
        "training_args.json": json.dumps(asdict(args), indent=2, sort_keys=True) + "\n"})
    log(f"wrote {path}")
    return path


__all__ = ["Candidate", "TrainSummarizerArgs", "featurize", "fit_scorer", "train_summarizer"]
