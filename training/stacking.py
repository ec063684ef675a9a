"""Choose and fit the feature stacker (``model/features.py``) on a cross-validated checkpoint.

``presslens train stance --cv K`` keeps each sentence's out-of-fold probability (``cv_oof.json``). Those are
honest inputs for a second stage: a logistic regression over the encoder's logit and lexicon features. Which
feature groups to keep is itself chosen by cross-validation over the same sentences (folds with another
seed): groups are added greedily while one still raises the pooled out-of-fold macro-F1 (at the threshold
chosen for the target label share) by at least ``min_gain``. Each group's effect alone and dropped from the
final set is reported, so the model card says what every kept feature paid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from presslens.model.features import GROUPS, Stacker, features

from .arguments import arg
from .crossval import stratified_folds
from .data import DataError, load_sentences
from .selection import best_threshold, macro_f1


@dataclass
class StackArgs:
    model: str = arg(help="a checkpoint trained with --cv (it holds cv_oof.json); rewritten in place, atomically",
                     metavar="NAME|DIR")
    folds: int = arg(5, help="folds of the cross-validation that chooses the feature groups")
    min_gain: float = arg(0.002, help="keep a group only if it raises cross-validated macro-F1 by this much")
    c: float = arg(1.0, help="inverse L2 strength of the stacking regression")
    threshold_prior: float = arg(0.0, help="editorial share the threshold is chosen for (0: the checkpoint's "
                                           "cross-validation prior)")
    calibrate_articles: str = arg("", metavar="DIR", help="BASIL directory: recalibrate the article rule after "
                                                          "stacking (the probabilities changed)")
    max_fer: float = arg(0.02, help="false-editorial budget for that calibration")
    seed: int = arg(29, help="seed of the folds (not the training folds' seed, so the choice is not fitted to them)")
    command: str = arg("", cli=False)

    def __post_init__(self) -> None:
        if self.folds < 2 or self.c <= 0 or not 0 <= self.threshold_prior < 1:
            raise DataError("--folds must be >= 2, --c > 0 and --threshold-prior in [0, 1)")


def cv_score(p: np.ndarray, y: np.ndarray, feats: dict[str, np.ndarray], groups: list[str],
             folds: list[np.ndarray], prior: float | None, c: float) -> tuple[float, float, np.ndarray]:
    """(macro-F1 at the chosen threshold, that threshold, pooled out-of-fold stacked probabilities)."""
    out = np.zeros(len(y))
    width = sum(len(GROUPS[g]) for g in groups)
    f_all = np.column_stack([feats[g] for g in groups]) if groups else np.zeros((len(y), 0))
    for held in folds:
        keep = np.setdiff1d(np.arange(len(y)), held)
        st = Stacker.fit(p[keep], [""] * len(keep), y[keep], groups, c=c, feats=f_all[keep])
        z = (f_all[held] - st.mean) / st.scale if width else np.zeros((len(held), 0))
        x = np.column_stack([np.log(np.clip(p[held], 1e-6, 1 - 1e-6) / np.clip(1 - p[held], 1e-6, 1)), z])
        out[held] = 1.0 / (1.0 + np.exp(-(x @ st.coef + st.intercept)))
    thr, f1 = best_threshold(y, out, prior)
    return f1, thr, out


def choose_groups(p: np.ndarray, texts: list[str], y: np.ndarray, prior: float | None, args: StackArgs,
                  log) -> dict:
    """Greedy forward selection of feature groups by cross-validated macro-F1; the effects of each."""
    folds = stratified_folds(y, args.folds, args.seed)
    feats = {g: features(texts, [g]) for g in GROUPS}
    raw_thr, raw = best_threshold(y, p, prior)
    base, _, _ = cv_score(p, y, feats, [], folds, prior, args.c)
    alone = {g: round(cv_score(p, y, feats, [g], folds, prior, args.c)[0] - base, 4) for g in GROUPS}
    chosen: list[str] = []
    score = base
    while True:
        trials = {g: cv_score(p, y, feats, chosen + [g], folds, prior, args.c)[0] for g in GROUPS if g not in chosen}
        if not trials:
            break
        g, s = max(trials.items(), key=lambda kv: kv[1])
        if s - score < args.min_gain:
            break
        chosen.append(g)
        score = s
        log(f"stacking: + {g} -> cross-validated macro-F1 {s:.4f}")
    dropped = {g: round(score - cv_score(p, y, feats, [h for h in chosen if h != g], folds, prior, args.c)[0], 4)
               for g in chosen}
    f1, thr, _ = cv_score(p, y, feats, chosen, folds, prior, args.c)
    return {"groups": chosen, "macro_f1": round(f1, 4), "threshold": thr, "encoder_only_macro_f1": round(raw, 4),
            "encoder_only_threshold": raw_thr, "logit_only_macro_f1": round(base, 4), "gain_alone": alone,
            "loss_when_dropped": dropped, "folds": args.folds, "prior": prior, "min_gain": args.min_gain}


def stack(args: StackArgs, log=print) -> dict:
    """Choose groups, fit the stacker on every out-of-fold probability, and rewrite the checkpoint."""
    from presslens.model.card import model_card
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import StanceModel

    path = resolve_stance(args.model)
    oof_file = path / "cv_oof.json"
    if not oof_file.is_file():
        raise DataError(f"{path} holds no cv_oof.json: train it with `presslens train stance --cv K` first")
    model = StanceModel.from_pretrained(path)
    cv = (model.config.training.get("metrics") or {}).get("cv") or {}
    oof = json.loads(oof_file.read_text())
    p = np.asarray(oof["epoch_proba"][cv.get("epoch", len(oof["epoch_proba"])) - 1], dtype=np.float64)
    y = np.array([int(lbl == "editorial") for lbl in oof["labels"]])
    prior = args.threshold_prior or cv.get("prior")
    report = choose_groups(p, oof["texts"], y, prior, args, log)
    log(f"stacking: kept {report['groups'] or 'no group'}; cross-validated macro-F1 {report['macro_f1']:.4f} "
        f"(encoder alone {report['encoder_only_macro_f1']:.4f}); alone {report['gain_alone']}")
    if report["groups"]:
        model.stacker = Stacker.fit(p, oof["texts"], y, report["groups"], c=args.c,
                                    info={"chosen_by": f"{args.folds}-fold cross-validation over cv_oof.json"})
        model.config.threshold = report["threshold"]
    else:
        model.stacker = None
    metrics = model.config.training.setdefault("metrics", {})
    metrics["stacking"] = report
    for held in model.config.training.get("excluded", []):  # the test splits: reported, never chosen on
        data = load_sentences(held)
        ph = model.predict_proba(data.texts)[:, 1]
        metrics[Path(held).name] = {"macro_f1": round(macro_f1(np.array(data.y), (ph >= model.config.threshold)
                                                                .astype(int)), 4), "n": len(data)}
        log(f"{Path(held).name}: macro-F1 {metrics[Path(held).name]['macro_f1']:.4f} (reported only)")
    if args.calibrate_articles:
        from .article_rule import calibrate_on_basil

        metrics["basil_article_rule"] = calibrate_on_basil(model, args.calibrate_articles, args.max_fer, log)
    model.config.training.setdefault("data", []).append(
        f"feature stacker chosen and fitted on the out-of-fold probabilities ({args.command or 'presslens train stack'})")
    extra = {name: (path / name).read_text() for name in ("cv_oof.json", "training_args.json") if (path / name).is_file()}
    model.save_pretrained(path, card=model_card(model.config), extra_files=extra)
    return report
