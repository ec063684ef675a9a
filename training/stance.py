"""Fine-tune the stance model on labelled sentences and write a checkpoint atomically.

Modes: ``fast`` trains a head over frozen encoder embeddings (seconds on a CPU); ``adapter`` trains a
LoRA adapter on the encoder's attention plus the head; ``full`` fine-tunes the whole encoder. The epoch
and the sentence threshold are chosen on the dev data, never on a test split.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from presslens.model.encoder import Encoder, encoder_name
from presslens.model.head import build_head
from presslens.model.profiles import resolve_stance
from presslens.model.runtime.cpu import training_precision
from presslens.model.stance import (
    ArticleRule,
    StanceConfig,
    StanceModel,
    model_card,
)

from .article_rule import ArticleEvidence, article_evidence, calibrate_article_rule, calibrate_on_basil
from .data import DataError, LabelledSentences, concat, deduplicate, load_sentences
from .finetune import train_finetune, train_head_fast
from .selection import best_threshold, macro_f1, set_seed, split_dev
from .stance_args import TrainStanceArgs, parse_share

LICENCES = {
    "checkthat": "CLEF CheckThat! subjectivity data: CC BY-NC-SA 4.0",
    "newssd": "NewsSD-ENG: CC BY 4.0",
    "babe": "BABE (Media Bias Group): repository licence AGPL-3.0, no separate data licence",
    "basil": "BASIL (launchnlp/BASIL, article-rule calibration only): no licence stated",
}


def threshold_prior(args: TrainStanceArgs, train: LabelledSentences) -> float | None:
    """The editorial share the sentence threshold is chosen for (None: the scored data's own)."""
    if args.threshold_prior == "train":
        return float(np.mean(train.y))
    return None if args.threshold_prior == "dev" else parse_share(args.threshold_prior)


def _load_init(args: TrainStanceArgs) -> StanceModel:
    """The ``--init`` checkpoint, checked to be one this run can continue from and still save faithfully."""
    init = StanceModel.from_pretrained(resolve_stance(args.init))
    allowed = {"partial": ("partial", "full"), "full": ("full",)}.get(init.config.mode, ())
    if args.mode not in allowed:
        raise DataError(f"--init {args.init}: a {init.config.mode!r} checkpoint cannot start a {args.mode!r} run "
                        "(a partial one can start partial or full runs, a full one full runs)")
    if encoder_name(init.config.encoder) != encoder_name(args.encoder):
        raise DataError(f"--init {args.init} was trained from encoder {init.config.encoder!r}, "
                        f"not --encoder {args.encoder!r}")
    return init


def _load_data(args: TrainStanceArgs, log) -> tuple[LabelledSentences, LabelledSentences | None,
                                                     list[LabelledSentences], int]:
    """Training, dev and held-out sentences; training deduplicated against the others."""
    train = concat([load_sentences(p, args.format) for p in args.data])
    dev = concat([load_sentences(p) for p in args.dev]) if args.dev else None
    excluded = [load_sentences(p) for p in args.exclude]
    train, dropped = deduplicate(train, *([dev] if dev else []), *excluded)
    if args.limit:
        train = LabelledSentences(train.texts[: args.limit], train.labels[: args.limit], train.source)
    if dev is None and not args.cv and args.dev_fraction > 0 and len(train) >= 20:
        train, dev = split_dev(train, args.dev_fraction, args.seed)
        log(f"no --dev given: holding out {len(dev)} training sentences (stratified) to pick epoch and threshold")
    if len(set(train.labels)) < 2:
        raise DataError("training data must hold both labels, neutral and editorial")
    log(f"training on {len(train)} sentences ({dropped} duplicates of dev/held-out or repeats dropped)")
    return train, dev, excluded, dropped


def new_model(args: TrainStanceArgs, init: StanceModel | None, log) -> StanceModel:
    """An untrained model for this run: encoder (or ``--init``'s), head, and the training precision."""
    model = StanceModel.new(args.encoder, mode=args.mode, hidden=args.hidden, max_length=args.max_length)
    model.head = build_head(model.config.dim, args.hidden)
    if args.mode == "partial":
        model.config.train_layers = args.train_layers
    if init is not None:
        model.encoder.model.load_state_dict(init.encoder.model.state_dict())
        log(f"encoder initialised from {args.init} ({init.config.mode}, trained on "
            f"{', '.join(init.config.training.get('data', [])) or 'unknown data'})")
    model.encoder.bf16 = training_precision(args.precision) == "bf16"
    return model


def _fit(args: TrainStanceArgs, model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
         soft, log, init: StanceModel | None) -> tuple[dict, dict[str, dict], float | None]:
    """Train; with ``--cv`` the epoch and threshold come from cross-validation first. Returns (info, metrics,
    the cross-validated threshold or None)."""
    if args.mode == "fast":
        return train_head_fast(model, train, dev, args, log), {}, None
    if not args.cv:
        return train_finetune(model, train, dev, args, log, soft=soft), {}, None
    from .crossval import cross_validate

    cv = cross_validate(args, train, lambda: new_model(args, init, lambda m: None), threshold_prior(args, train),
                        log, soft=soft)
    oof = cv.pop("oof_proba")
    info = train_finetune(model, train, None, args, log, soft=soft, stop_epoch=cv["epoch"])
    info["cv_oof"] = {"labels": list(train.labels), "texts": list(train.texts), "epoch_proba": oof}
    return info, {"cv": cv}, cv["threshold"]


def _choose_on_dev(args: TrainStanceArgs, model: StanceModel, train: LabelledSentences, dev: LabelledSentences,
                   info: dict, metrics: dict, log) -> float:
    """The lexical branch (if asked) and the sentence threshold, chosen on dev; the dev figures into metrics."""
    p = info["dev_proba"] if "dev_proba" in info else model.predict_proba(dev.texts)[:, 1]
    yd = np.array(dev.y)
    prior = threshold_prior(args, train)
    if args.lexical:
        from .lexical import fit_branch

        metrics["lexical"] = fit_branch(model, train, dev, p, prior, args.seed, log)
        p = model.lexical.mix(p, dev.texts) if model.lexical is not None else p
    threshold, weighted = best_threshold(yd, p, prior)
    metrics["dev"] = {"macro_f1": round(macro_f1(yd, (p >= threshold).astype(int)), 4),
                      "macro_f1_at_0.5": round(macro_f1(yd, (p >= 0.5).astype(int)), 4),
                      "threshold_prior": args.threshold_prior, "editorial_share": round(float(yd.mean()), 4),
                      "train_editorial_share": round(float(np.mean(train.y)), 4), "n": len(dev)}
    if prior is not None:  # the score the threshold (and a choice among seeds) is made on
        metrics["dev"]["macro_f1_at_train_prior"] = round(weighted, 4)
    return threshold


def _sources(args: TrainStanceArgs, init: StanceModel | None, dev: LabelledSentences | None) -> tuple[list[str], list[str]]:
    """What the model was made from (for its card) and the licences that follow."""
    init_data = list(init.config.training.get("data", [])) if init is not None else []
    sources = ([f"{d} (first stage, --init {args.init})" for d in init_data] + list(args.data)
               + [f"{d} (dev: epoch and threshold)" for d in args.dev])
    if args.cv:
        sources.append(f"epoch and threshold chosen by {args.cv}-fold cross-validation over the training data")
    if args.calibrate_articles:
        sources.append(f"{args.calibrate_articles} (calibration half: in-article threshold and article rule)")
    if not args.dev and dev is not None:
        sources.append(f"{len(dev)} sentences held out of the training data (dev: epoch and threshold)")
    used = init_data + args.data + args.dev + ([args.calibrate_articles] if args.calibrate_articles else [])
    licences = sorted({lic for key, lic in LICENCES.items() if any(key in s.lower() for s in used)})
    return sources, licences


def _calibrate_links(links: str, model, log) -> None:
    """The claim-link and support cosines for the trained encoder (``presslens calibrate``'s first step)."""
    from .calibrate import calibrate_links, default_links_dir

    if links == "off" or (links == "auto" and not (default_links_dir() / "train.tsv").is_file()):
        log("link cosines: not calibrated (hand-set defaults; run scripts/fetch_sts_news.sh, then presslens calibrate)")
        return
    calibrate_links(model, default_links_dir() if links == "auto" else links, log)


def train_stance(args: TrainStanceArgs, log=print) -> dict:
    """Train, choose epoch and threshold (on dev or by cross-validation), evaluate, and write the checkpoint."""
    t0 = time.time()
    init = _load_init(args) if args.init else None  # before seeding, so loading it cannot move the RNG
    set_seed(args.seed)
    train, dev, excluded, dropped = _load_data(args, log)
    model = new_model(args, init, log)
    log(f"precision: {'bf16 autocast' if model.encoder.bf16 else 'fp32'} (--precision {args.precision})")
    soft, distilled = None, {}
    if args.teacher:
        from .distill import soft_targets

        soft, distilled = soft_targets(args, log)
    info, metrics, threshold = _fit(args, model, train, dev, soft, log, init)
    if dev is not None:
        threshold = _choose_on_dev(args, model, train, dev, info, metrics, log)
    model.config.threshold = 0.5 if threshold is None else threshold
    model.config.voice_rules = args.voice_rules
    if init is not None and args.mode == "partial":  # save every layer either stage changed
        model.config.train_layers = max(args.train_layers, init.config.train_layers)
    if args.article_rule:
        model.config.article_rule = ArticleRule(**args.article_rule)
    model.encoder.bf16 = False  # calibration and the saved model's figures are the fp32 reference's
    if args.calibrate_articles:
        metrics["basil_article_rule"] = calibrate_on_basil(model, args.calibrate_articles, args.max_fer, log)
    _calibrate_links(args.calibrate_links, model, log)
    for ex in excluded if args.report_excluded else []:
        p = model.predict_proba(ex.texts)[:, 1]
        metrics[Path(ex.source).name] = {"macro_f1": round(macro_f1(np.array(ex.y), (p >= model.config.threshold).astype(int)), 4),
                                         "n": len(ex)}
    sources, licences = _sources(args, init, dev)
    model.config.training = {
        "data": sources, "excluded": list(args.exclude), "licences": licences, "metrics": metrics,
        "n_train": len(train), "dropped_duplicates": dropped, "seed": args.seed, "mode": args.mode,
        "epochs": args.epochs, "lr": args.lr, "best_epoch": info["best_epoch"], "curve": info.get("curve", []), "command": args.command,
        "precision": "bf16" if training_precision(args.precision) == "bf16" else "fp32",
        "seconds": round(time.time() - t0, 1), **({"distillation": distilled} if distilled else {}),
    }
    extra = {"training_args.json": json.dumps(asdict(args), indent=2, sort_keys=True) + "\n"}
    if "cv_oof" in info:  # the out-of-fold probabilities: what stacking or a later choice can be fitted on
        extra["cv_oof.json"] = json.dumps(info["cv_oof"]) + "\n"
    model.save_pretrained(args.out, card=model_card(model.config), extra_files=extra)
    log(f"wrote {args.out}: threshold {model.config.threshold:.2f}, metrics {json.dumps(metrics, sort_keys=True)}")
    return metrics


__all__ = ["TrainStanceArgs", "train_stance", "macro_f1", "best_threshold", "set_seed", "split_dev", "StanceConfig",
           "Encoder", "ArticleEvidence", "article_evidence", "calibrate_article_rule", "calibrate_on_basil"]
