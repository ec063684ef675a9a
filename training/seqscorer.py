"""Fit the sequence scorer (``model.seqscorer``) on oracle labels: one article = one sequence of sentences.

Input is what ``training.summarizer.featurize`` builds for the other scorers: hand features and 0/1 oracle
labels per body sentence, grouped by document, and each document's articles and embeddings. A cluster
(NeuS) becomes one sequence per article; its labels come from the oracle over the whole cluster.

Training is deterministic: a fixed seed for initialisation, dropout and batch order, deterministic torch
kernels and a single intra-op thread while fitting (a different thread count may sum in another order), so
the same data and encoder give byte-identical weights. The epoch is chosen on a slice of the training
documents themselves (``val_fraction``, by validation loss), never on the evaluation data, so the recipe
adapts to a new encoder without hand-tuning.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from presslens.model.seqscorer import NetworkShape, SequenceConfig, SequenceNet, SequenceScorer
from presslens.model.summarizer import FEATURES, body_indices


@dataclass
class Sequence:
    """One article's body sentences: features (n, F), embeddings (n, E), oracle labels (n,)."""

    feats: np.ndarray
    emb: np.ndarray
    labels: np.ndarray
    doc: int  # document number (a cluster's articles share one)


@dataclass
class SequenceArgs(NetworkShape):
    epochs: int = 12
    lr: float = 2e-3
    weight_decay: float = 0.01
    batch_size: int = 32
    val_fraction: float = 0.05
    seed: int = 13
    extra: dict = field(default_factory=dict)


def sequences_from(X: np.ndarray, y: np.ndarray, g: np.ndarray, units: list, doc_offset: int = 0) -> list[Sequence]:
    """Split ``featurize`` output back into one sequence per article (rows are in document, article order)."""
    out: list[Sequence] = []
    starts = np.searchsorted(g, np.arange(len(units)))
    for u, (_doc, arts, embs) in enumerate(units):
        pos = int(starts[u]) if u < len(starts) else len(g)
        for a, e in zip(arts, embs, strict=True):
            body = body_indices(a)
            n = len(body)
            if n and pos + n <= len(g) and g[pos] == u:
                out.append(Sequence(X[pos:pos + n], e[body].astype(np.float32), y[pos:pos + n], doc_offset + u))
            pos += n
    return out


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seeded, deterministic kernels, one intra-op thread; the previous settings come back afterwards."""
    threads = torch.get_num_threads()
    was = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was)
        torch.set_num_threads(threads)


def _batch(seqs: list[Sequence], mean: np.ndarray, scale: np.ndarray):
    n = max(len(s.labels) for s in seqs)
    f_dim, e_dim = seqs[0].feats.shape[1], seqs[0].emb.shape[1]
    feats = np.zeros((len(seqs), n, f_dim), dtype=np.float32)
    emb = np.zeros((len(seqs), n, e_dim), dtype=np.float32)
    lab = np.zeros((len(seqs), n), dtype=np.float32)
    mask = np.zeros((len(seqs), n), dtype=bool)
    for b, s in enumerate(seqs):
        k = len(s.labels)
        feats[b, :k] = (s.feats - mean) / scale
        emb[b, :k] = s.emb
        lab[b, :k] = s.labels
        mask[b, :k] = True
    return torch.from_numpy(feats), torch.from_numpy(emb), torch.from_numpy(lab), torch.from_numpy(mask)


def _loss(net: SequenceNet, batch) -> torch.Tensor:
    feats, emb, lab, mask = batch
    logits = net(feats, emb, mask)
    per = torch.nn.functional.binary_cross_entropy_with_logits(logits, lab, reduction="none")
    return (per * mask).sum() / mask.sum().clamp(min=1)


def fit_sequence_scorer(seqs: list[Sequence], args: SequenceArgs,
                        log: Callable[[str], None] = lambda m: None) -> tuple[SequenceScorer, dict]:
    """Train on ``seqs`` (a seeded ``val_fraction`` of the documents held out to pick the epoch)."""
    if not seqs:
        raise ValueError("no training sentences")
    rng = np.random.default_rng(args.seed)
    docs = np.array(sorted({s.doc for s in seqs}))
    n_val = int(round(args.val_fraction * len(docs))) if len(docs) >= 20 else 0
    val_docs = set(rng.permutation(docs)[:n_val].tolist())
    train = [s for s in seqs if s.doc not in val_docs]
    val = [s for s in seqs if s.doc in val_docs]
    X = np.concatenate([s.feats for s in train])
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-6] = 1.0
    cfg = SequenceConfig(features=list(FEATURES), embedding_dim=int(train[0].emb.shape[1]),
                         mean=mean.tolist(), scale=scale.tolist(), **args.network_kwargs())
    history: list[float] = []
    with deterministic(args.seed):
        net = SequenceNet(cfg)
        opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        val_batches = [_batch(val[i:i + 256], mean, scale) for i in range(0, len(val), 256)]
        best, best_state, best_epoch = float("inf"), copy.deepcopy(net.state_dict()), 0
        for epoch in range(1, args.epochs + 1):
            net.train()
            order = rng.permutation(len(train))
            for i in range(0, len(order), args.batch_size):
                opt.zero_grad()
                loss = _loss(net, _batch([train[j] for j in order[i:i + args.batch_size]], mean, scale))
                loss.backward()
                opt.step()
            if not val_batches:
                best_state, best_epoch = copy.deepcopy(net.state_dict()), epoch
                continue
            net.eval()
            with torch.no_grad():
                tot = sum(float(_loss(net, b)) * int(b[3].sum()) for b in val_batches)
                v = tot / sum(int(b[3].sum()) for b in val_batches)
            history.append(round(v, 5))
            if v < best - 1e-6:
                best, best_state, best_epoch = v, copy.deepcopy(net.state_dict()), epoch
        net.load_state_dict(best_state)
        net.eval()
    log(f"  sequence scorer: {len(train)} train / {len(val)} val sequences, epoch {best_epoch} of {args.epochs} "
        f"(val loss {history})")
    info = {"train_sequences": len(train), "val_sequences": len(val), "epoch": best_epoch, "val_loss": history}
    return SequenceScorer(cfg, net), info





def heldout_rouge(summarizer, units: list, indices, sentences: int) -> dict[str, list[dict]]:
    """ROUGE per document of ``summarizer`` and of Lead-N on the single-article ``units`` at ``indices``."""
    from .summ_data import Rouge, reference_lines

    rouge = Rouge()
    scores: dict[str, list[dict]] = {"presslens": [], "lead": []}
    for u in indices:
        doc, arts, embs = units[u]
        refs = [reference_lines(r) for r in doc.references]
        a = arts[0]
        picked = [s.text for s in summarizer.summarize(a, embs[0], max_sentences=sentences)]
        scores["presslens"].append(rouge.score(picked, refs))
        scores["lead"].append(rouge.score([s.text for s in a.body_sentences][:sentences], refs))
    return scores


def mean_rouge(scores: dict[str, list[dict]]) -> dict:
    from .summ_data import Rouge

    return {name: {t: round(float(np.mean([r[t] for r in rows])), 2) for t in Rouge.TYPES}
            for name, rows in scores.items()}


def cross_validate_sequences(seqs: list[Sequence], units: list, folded: list[int], *, folds: int,
                             args: SequenceArgs, sentences: int, mmr_lambda: float,
                             log: Callable[[str], None] = lambda m: None, commentary=None) -> dict:
    """K-fold over the documents ``folded`` (the others always train): each scored by a model that never saw it."""
    from presslens.model.summarizer import ExtractiveSummarizer, ScorerConfig

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(folded))
    fold_of = {folded[int(j)]: k % folds for k, j in enumerate(order)}
    scores: dict[str, list[dict]] = {"presslens": [], "lead": []}
    for f in range(folds):
        held = sorted(u for u, k in fold_of.items() if k == f)
        held_set = set(held)
        scorer, _ = fit_sequence_scorer([s for s in seqs if s.doc not in held_set], args, log)
        summ = ExtractiveSummarizer(ScorerConfig(single=scorer, mmr_lambda=mmr_lambda), commentary)
        for name, rows in heldout_rouge(summ, units, held, sentences).items():
            scores[name].extend(rows)
    return mean_rouge(scores) | {"folds": folds, "documents": len(folded)}

__all__ = ["Sequence", "SequenceArgs", "cross_validate_sequences", "deterministic", "fit_sequence_scorer",
           "heldout_rouge", "mean_rouge", "sequences_from"]
