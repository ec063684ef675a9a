"""Fine-tune the stance model on labelled sentences and write a checkpoint atomically.

Modes: ``fast`` trains a head over frozen encoder embeddings (seconds on a CPU); ``adapter`` trains a
LoRA adapter on the encoder's attention plus the head; ``full`` fine-tunes the whole encoder. The epoch
and the sentence threshold are chosen on the dev data, never on a test split.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from model.encoder import DEFAULT_ENCODER, Encoder
from model.stance import ArticleRule, StanceConfig, StanceModel, build_head, model_card

from .data import DataError, LabelledSentences, concat, deduplicate, load_sentences

LICENCES = {
    "checkthat": "CLEF CheckThat! subjectivity data: CC BY-NC-SA 4.0",
    "newssd": "NewsSD-ENG: CC BY 4.0",
    "babe": "BABE (Media Bias Group): repository licence AGPL-3.0, no separate data licence",
}


@dataclass
class TrainStanceArgs:
    data: list[str]
    out: str
    dev: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    format: str = "auto"
    encoder: str = DEFAULT_ENCODER
    mode: str = "fast"
    epochs: int = 0  # 0: the mode's default
    lr: float = 0.0  # 0: the mode's default
    batch_size: int = 16
    hidden: int = 0
    max_length: int = 128
    lora_r: int = 16
    seed: int = 13
    limit: int = 0  # cap on training sentences, for quick runs
    article_rule: dict = field(default_factory=dict)
    command: str = ""

    def __post_init__(self) -> None:
        if not self.data:
            raise DataError("give at least one --data file")
        if self.mode not in ("fast", "adapter", "full"):
            raise DataError(f"--mode must be fast, adapter or full, not {self.mode!r}")
        if self.epochs < 0 or self.lr < 0 or self.batch_size < 1 or self.limit < 0:
            raise DataError("--epochs, --lr and --limit must be >= 0 and --batch-size >= 1")
        if not self.epochs:
            self.epochs = {"fast": 300, "adapter": 6, "full": 4}[self.mode]
        if not self.lr:
            self.lr = {"fast": 1e-2, "adapter": 5e-4, "full": 3e-5}[self.mode]


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    f1s = []
    for c in (0, 1):
        tp = int(((y_pred == c) & (y_true == c)).sum())
        fp = int(((y_pred == c) & (y_true != c)).sum())
        fn = int(((y_pred != c) & (y_true == c)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s))


def best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The threshold in [0.2, 0.8] with the highest macro-F1 (ties: closest to 0.5)."""
    best = (0.5, macro_f1(y, (p >= 0.5).astype(int)))
    for t in np.arange(0.2, 0.801, 0.01):
        f = macro_f1(y, (p >= t).astype(int))
        if f > best[1] + 1e-9 or (abs(f - best[1]) <= 1e-9 and abs(t - 0.5) < abs(best[0] - 0.5)):
            best = (float(round(t, 2)), f)
    return best


def _pos_weight(y: np.ndarray) -> torch.Tensor:
    pos = max(1, int(y.sum()))
    return torch.tensor([(len(y) - pos) / pos], dtype=torch.float32)


def _train_head_fast(model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
                     args: TrainStanceArgs, log) -> dict:
    x = torch.as_tensor(model.encoder.encode(train.texts))
    y = torch.as_tensor(train.y, dtype=torch.float32)
    xd = torch.as_tensor(model.encoder.encode(dev.texts)) if dev else None
    head = model.head.train()
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y.numpy()))
    best = {"f1": -1.0, "epoch": 0, "state": None}
    for epoch in range(1, args.epochs + 1):
        opt.zero_grad()
        loss = loss_fn(head(x).squeeze(-1), y)
        loss.backward()
        opt.step()
        if xd is not None and (epoch % 10 == 0 or epoch == args.epochs):
            head.eval()
            with torch.inference_mode():
                p = torch.sigmoid(head(xd).squeeze(-1)).numpy()
            head.train()
            f1 = macro_f1(np.array(dev.y), (p >= 0.5).astype(int))
            if f1 > best["f1"]:
                best = {"f1": f1, "epoch": epoch, "state": {k: v.clone() for k, v in head.state_dict().items()}}
    if best["state"] is not None:
        head.load_state_dict(best["state"])
    head.eval()
    log(f"fast head: best dev macro-F1 {best['f1']:.4f} at epoch {best['epoch']}")
    return {"best_epoch": best["epoch"]}


def _train_finetune(model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
                    args: TrainStanceArgs, log) -> dict:
    enc = model.encoder
    if args.mode == "adapter":
        from peft import LoraConfig, get_peft_model

        enc.model = get_peft_model(enc.model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r,
                                                         lora_dropout=0.1, target_modules=["query", "key", "value", "dense"]))
    params = [p for p in enc.model.parameters() if p.requires_grad] + list(model.head.parameters())
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, 0.1 * steps))
                                              * max(0.0, (steps - s) / steps))
    y_all = np.array(train.y)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y_all).to(enc.device))
    best = {"f1": -1.0, "epoch": 0, "state": None}
    from tqdm.auto import tqdm

    for epoch in range(1, args.epochs + 1):
        enc.model.train()
        model.head.train()
        order = np.random.permutation(len(train))
        for i in tqdm(range(0, len(order), args.batch_size), desc=f"epoch {epoch}/{args.epochs}", leave=False):
            idx = order[i : i + args.batch_size]
            batch = enc.tokenize([train.texts[j] for j in idx])
            logits = model.head(enc.forward(batch)).squeeze(-1)
            loss = loss_fn(logits, torch.as_tensor(y_all[idx], dtype=torch.float32, device=enc.device))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
        enc.model.eval()
        model.head.eval()
        if dev is not None:
            p = model.predict_proba(dev.texts)[:, 1]
            f1 = macro_f1(np.array(dev.y), (p >= 0.5).astype(int))
            log(f"epoch {epoch}: dev macro-F1 {f1:.4f}")
            if f1 > best["f1"]:
                state = {k: v.detach().clone() for k, v in enc.model.state_dict().items()}
                best = {"f1": f1, "epoch": epoch, "state": (state, {k: v.clone() for k, v in model.head.state_dict().items()})}
    if best["state"] is not None:
        enc.model.load_state_dict(best["state"][0])
        model.head.load_state_dict(best["state"][1])
    return {"best_epoch": best["epoch"] or args.epochs}


def train_stance(args: TrainStanceArgs, log=print) -> dict:
    """Train, choose epoch and threshold on dev, evaluate, and write the checkpoint. Returns metrics."""
    t0 = time.time()
    set_seed(args.seed)
    train = concat([load_sentences(p, args.format) for p in args.data])
    dev = concat([load_sentences(p) for p in args.dev]) if args.dev else None
    excluded = [load_sentences(p) for p in args.exclude]
    train, dropped = deduplicate(train, *([dev] if dev else []), *excluded)
    if args.limit:
        train = LabelledSentences(train.texts[: args.limit], train.labels[: args.limit], train.source)
    if len(set(train.labels)) < 2:
        raise DataError("training data must hold both labels, neutral and editorial")
    log(f"training on {len(train)} sentences ({dropped} duplicates of dev/held-out or repeats dropped)")
    model = StanceModel.new(args.encoder, mode=args.mode, hidden=args.hidden, max_length=args.max_length)
    model.head = build_head(model.config.dim, args.hidden)
    if args.mode == "fast":
        info = _train_head_fast(model, train, dev, args, log)
    else:
        info = _train_finetune(model, train, dev, args, log)
    metrics: dict[str, dict] = {}
    threshold = 0.5
    if dev is not None:
        p = model.predict_proba(dev.texts)[:, 1]
        threshold, f1 = best_threshold(np.array(dev.y), p)
        metrics["dev"] = {"macro_f1": round(f1, 4), "macro_f1_at_0.5": round(macro_f1(np.array(dev.y), (p >= 0.5).astype(int)), 4),
                          "n": len(dev)}
    model.config.threshold = threshold
    if args.article_rule:
        model.config.article_rule = ArticleRule(**args.article_rule)
    for ex in excluded:
        p = model.predict_proba(ex.texts)[:, 1]
        metrics[Path(ex.source).name] = {"macro_f1": round(macro_f1(np.array(ex.y), (p >= threshold).astype(int)), 4),
                                         "n": len(ex)}
    sources = list(args.data) + [f"{d} (dev: epoch and threshold)" for d in args.dev]
    licences = sorted({lic for key, lic in LICENCES.items() if any(key in s.lower() for s in args.data + args.dev)})
    model.config.training = {
        "data": sources, "excluded": list(args.exclude), "licences": licences, "metrics": metrics,
        "n_train": len(train), "dropped_duplicates": dropped, "seed": args.seed, "mode": args.mode,
        "epochs": args.epochs, "lr": args.lr, "best_epoch": info["best_epoch"], "command": args.command,
        "seconds": round(time.time() - t0, 1),
    }
    model.save_pretrained(args.out, card=model_card(model.config),
                          extra_files={"training_args.json": json.dumps(asdict(args), indent=2, sort_keys=True) + "\n"})
    log(f"wrote {args.out}: threshold {threshold:.2f}, metrics {json.dumps(metrics, sort_keys=True)}")
    return metrics


__all__ = ["TrainStanceArgs", "train_stance", "macro_f1", "best_threshold", "set_seed", "StanceConfig", "Encoder"]
