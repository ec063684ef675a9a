"""K-fold cross-validation of a fine-tuning recipe: which epoch, and which threshold, without a dev split.

With a few hundred labelled sentences a single dev split chooses noisily, and its label balance need not be
the one the model will meet (CheckThat dev is 52% editorial, train 36%, the test splits 25-28%). So the
training data are cut into K stratified folds; each fold's model trains on the other K-1 and scores its
held-out fold after every epoch. The out-of-fold probabilities of each epoch, pooled over the folds, are
scored like one dev set the size of all the data: the epoch with the best macro-F1 (at the threshold chosen
for the target label share) wins, and the final model is trained on everything for that many epochs under
the same schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .data import LabelledSentences
from .selection import best_threshold, macro_f1, prior_weights

if TYPE_CHECKING:
    from presslens.model.stance import StanceModel

    from .stance_args import TrainStanceArgs


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint index arrays covering ``range(len(y))``, each with about the same share of each label."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [held for _, held in skf.split(np.zeros(len(y)), y)]


def _subset(data: LabelledSentences, idx: np.ndarray, tag: str) -> LabelledSentences:
    return LabelledSentences([data.texts[i] for i in idx], [data.labels[i] for i in idx], f"{data.source} ({tag})")


def score_epochs(y: np.ndarray, oof: np.ndarray, folds: list[np.ndarray], prior: float | None) -> list[dict]:
    """Per epoch (rows of ``oof``): the threshold chosen on the pooled out-of-fold probabilities for the label
    share ``prior``, macro-F1 there (weighted to ``prior``, and plain), at 0.5, and the spread over folds."""
    rows = []
    w = prior_weights(y, prior)
    for e, p in enumerate(oof, start=1):
        thr, weighted = best_threshold(y, p, prior)
        per_fold = [macro_f1(y[f], (p[f] >= thr).astype(int), None if w is None else w[f]) for f in folds]
        rows.append({"epoch": e, "threshold": thr, "macro_f1_at_prior": round(weighted, 4),
                     "macro_f1": round(macro_f1(y, (p >= thr).astype(int)), 4),
                     "macro_f1_at_0.5": round(macro_f1(y, (p >= 0.5).astype(int)), 4),
                     "fold_sd": round(float(np.std(per_fold)), 4)})
    return rows


def cross_validate(args: TrainStanceArgs, data: LabelledSentences, new_model: Callable[[], StanceModel],
                   prior: float | None, log, soft: tuple[list[str], np.ndarray] | None = None) -> dict:
    """Run ``args.cv`` folds of ``args.epochs`` epochs; return the chosen epoch and threshold with the table.

    ``new_model`` builds a fresh, untrained model for each fold. ``soft`` (distillation) is fitted in every
    fold beside that fold's gold sentences. Ties go to the earlier epoch (less training, less to overfit).
    """
    from .finetune import train_finetune
    from .selection import set_seed

    y = np.array(data.y)
    folds = stratified_folds(y, args.cv, args.seed)
    oof = np.zeros((args.epochs, len(y)), dtype=np.float32)
    t0 = time.time()
    for i, held in enumerate(folds, start=1):
        set_seed(args.seed + i)
        keep = np.setdiff1d(np.arange(len(y)), held)
        model = new_model()
        log(f"cv fold {i}/{len(folds)}: training on {len(keep)}, scoring {len(held)} after each epoch")
        info = train_finetune(model, _subset(data, keep, f"fold {i} train"), None, args, log, soft=soft,
                              watch=_subset(data, held, f"fold {i}"))
        for e, p in enumerate(info["watch_proba"]):
            oof[e, held] = p
        del model
        log(f"cv fold {i} done ({time.time() - t0:.0f}s so far)")
    table = score_epochs(y, oof, folds, prior)
    best = max(table, key=lambda r: (r["macro_f1_at_prior"], -r["epoch"]))
    for r in table:
        log(f"cv epoch {r['epoch']}: macro-F1 {r['macro_f1_at_prior']:.4f} at threshold {r['threshold']:.2f} "
            f"(for an editorial share of {prior if prior is not None else 'the data'}; plain {r['macro_f1']:.4f}, "
            f"at 0.5 {r['macro_f1_at_0.5']:.4f}, fold sd {r['fold_sd']:.4f})")
    log(f"cv chose epoch {best['epoch']} and threshold {best['threshold']:.2f}")
    return {"folds": len(folds), "epochs": args.epochs, "prior": prior, "table": table, "epoch": best["epoch"],
            "threshold": best["threshold"], "macro_f1": best["macro_f1_at_prior"], "seconds": round(time.time() - t0, 1),
            "oof_proba": oof.round(5).tolist()}
