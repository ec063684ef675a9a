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

from model.encoder import DEFAULT_ENCODER, Encoder, length_buckets, mean_pool
from model.stance import (
    MODES,
    ArticleRule,
    StanceConfig,
    StanceModel,
    build_head,
    model_card,
    round_to_half,
    top_layer_prefixes,
    writer_voice,
)

from .data import DataError, LabelledSentences, concat, deduplicate, load_sentences

LICENCES = {
    "checkthat": "CLEF CheckThat! subjectivity data: CC BY-NC-SA 4.0",
    "newssd": "NewsSD-ENG: CC BY 4.0",
    "babe": "BABE (Media Bias Group): repository licence AGPL-3.0, no separate data licence",
    "basil": "BASIL (launchnlp/BASIL, article-rule calibration only): no licence stated",
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
    head_lr: float = 1e-3
    train_layers: int = 2  # partial mode: how many top encoder layers to fine-tune
    lora_r: int = 16
    seed: int = 13
    limit: int = 0  # cap on training sentences, for quick runs
    article_rule: dict = field(default_factory=dict)
    calibrate_articles: str = ""  # BASIL directory: calibrate the article rule on its calib half
    max_fer: float = 0.02
    # whose label balance the sentence threshold is chosen for: "train" reweights the dev data to the
    # training data's share of editorial sentences; "dev" takes the dev data as it is
    threshold_prior: str = "train"
    dev_fraction: float = 0.2  # without --dev: share of the training data held out as dev
    # a stance checkpoint (partial or full) whose fine-tuned encoder this run starts from: a first stage
    # trained on other data (intermediate-task training); the head starts fresh
    init: str = ""
    command: str = ""

    def __post_init__(self) -> None:
        if not self.data:
            raise DataError("give at least one --data file")
        if self.mode not in MODES:
            raise DataError(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.threshold_prior not in ("train", "dev"):
            raise DataError(f"--threshold-prior must be train or dev, got {self.threshold_prior!r}")
        if self.epochs < 0 or self.lr < 0 or self.batch_size < 1 or self.limit < 0:
            raise DataError("--epochs, --lr and --limit must be >= 0 and --batch-size >= 1")
        if not self.epochs:
            self.epochs = {"fast": 300, "adapter": 6, "partial": 5, "full": 4}[self.mode]
        if not self.lr:
            self.lr = {"fast": 1e-2, "adapter": 5e-4, "partial": 1e-4, "full": 3e-5}[self.mode]


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


def prior_weights(y: np.ndarray, prior: float | None) -> np.ndarray | None:
    """Per-example weights that make the positives ``prior`` of the total (None: no reweighting)."""
    y = np.asarray(y)
    share = float(y.mean()) if len(y) else 0.0
    if prior is None or not 0.0 < share < 1.0 or not 0.0 < prior < 1.0:
        return None
    return np.where(y == 1, prior / share, (1.0 - prior) / (1.0 - share))


def weighted_macro_f1(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> float:
    """Macro-F1 over the two classes, each example counted with weight ``w`` (None: plain macro-F1)."""
    if w is None:
        return macro_f1(y, pred)
    f1s = []
    for c in (0, 1):
        tp = float(np.sum(w * ((pred == c) & (y == c))))
        fp = float(np.sum(w * ((pred == c) & (y != c))))
        fn = float(np.sum(w * ((pred != c) & (y == c))))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0)
    return float(np.mean(f1s))


def best_threshold(y: np.ndarray, p: np.ndarray, prior: float | None = None) -> tuple[float, float]:
    """The threshold in [0.2, 0.8] with the highest macro-F1 (ties: closest to 0.5).

    ``prior``: score the dev examples as if ``prior`` of them were editorial (the training data's share),
    so a dev split with an unusual label balance does not drag the threshold with it.
    """
    y = np.asarray(y)
    w = prior_weights(y, prior)
    best = (0.5, weighted_macro_f1(y, (p >= 0.5).astype(int), w))
    for t in (round(0.2 + 0.01 * i, 2) for i in range(61)):
        # evaluate at the rounded value that is stored, so the saved threshold reproduces the score
        f = weighted_macro_f1(y, (p >= t).astype(int), w)
        if f > best[1] + 1e-9 or (abs(f - best[1]) <= 1e-9 and abs(t - 0.5) < abs(best[0] - 0.5)):
            best = (float(round(t, 2)), f)
    return best


def split_dev(data: LabelledSentences, fraction: float, seed: int) -> tuple[LabelledSentences, LabelledSentences]:
    """A stratified, seeded hold-out of ``fraction`` of each label."""
    rng = np.random.default_rng(seed)
    dev_idx: set[int] = set()
    for label in ("neutral", "editorial"):
        idx = [i for i, lbl in enumerate(data.labels) if lbl == label]
        k = int(round(fraction * len(idx)))
        if 0 < k < len(idx):
            dev_idx.update(int(i) for i in rng.choice(idx, size=k, replace=False))
    keep = [i for i in range(len(data)) if i not in dev_idx]
    pick = sorted(dev_idx)
    return (LabelledSentences([data.texts[i] for i in keep], [data.labels[i] for i in keep], data.source),
            LabelledSentences([data.texts[i] for i in pick], [data.labels[i] for i in pick], data.source + " (held out)"))


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


def _length_batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: far less padding than random batches, still a random order."""
    noisy = np.asarray(lengths, dtype=float) + rng.uniform(0, 6, len(lengths))
    order = np.argsort(noisy, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


class _TopLayers:
    """Run only the top ``k`` layers of a BERT-style encoder from cached inputs.

    Partial fine-tuning leaves the embeddings and the lower layers frozen, so their output for each
    sentence is computed once; every epoch then costs only the top layers' forward and backward pass.
    """

    def __init__(self, enc: Encoder, k: int):
        top_layer_prefixes(enc.model, k)  # validates the architecture and k
        self.enc = enc
        n = len(enc.model.encoder.layer)
        self.split = n - k
        self.layers = enc.model.encoder.layer[self.split :]
        for name, p in enc.model.named_parameters():
            p.requires_grad = name.startswith(tuple(top_layer_prefixes(enc.model, k)))

    def cache(self, texts: list[str], batch_size: int = 64) -> list[torch.Tensor]:
        enc = self.enc
        states: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        enc.model.eval()
        with torch.inference_mode():
            for idx in length_buckets([len(t) for t in texts], batch_size):
                batch = enc.tokenize([texts[i] for i in idx])
                out = enc.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                output_hidden_states=True)
                h = out.hidden_states[self.split]
                lens = batch["attention_mask"].sum(1).tolist()
                for row, i in enumerate(idx):
                    states[i] = h[row, : lens[row]].detach().clone()
        return states

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        h = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        lens = torch.tensor([len(s) for s in states], device=h.device)
        mask = (torch.arange(h.shape[1], device=h.device)[None, :] < lens[:, None]).long()
        ext = create_bidirectional_mask(config=self.enc.model.config, inputs_embeds=h, attention_mask=mask)
        for layer in self.layers:
            h = layer(h, ext)
        return torch.nn.functional.normalize(mean_pool(h, mask), p=2, dim=-1)

    def embed(self, states: list[torch.Tensor], batch_size: int = 64) -> torch.Tensor:
        self.enc.model.eval()
        out = torch.zeros(len(states), self.enc.dim)
        with torch.inference_mode():
            for idx in length_buckets([len(s) for s in states], batch_size):
                out[idx] = self.forward([states[i] for i in idx]).float().cpu()
        return out


def _fit_linear_probe(head: torch.nn.Module, x: torch.Tensor, y: np.ndarray, xd: torch.Tensor | None,
                      yd: np.ndarray | None, epochs: int = 300, lr: float = 1e-2) -> tuple[int, float]:
    """Full-batch AdamW on frozen embeddings; keeps the state with the best dev macro-F1 (or the last)."""
    yt = torch.as_tensor(y, dtype=torch.float32)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y))
    best = (0, -1.0, None)
    head.train()
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss_fn(head(x).squeeze(-1), yt).backward()
        opt.step()
        if xd is not None and (epoch % 10 == 0 or epoch == epochs):
            head.eval()
            with torch.inference_mode():
                p = torch.sigmoid(head(xd).squeeze(-1)).numpy()
            head.train()
            f1 = best_threshold(yd, p)[1]
            if f1 > best[1]:
                best = (epoch, f1, {k: v.clone() for k, v in head.state_dict().items()})
    if best[2] is not None:
        head.load_state_dict(best[2])
    head.eval()
    return best[0] or epochs, best[1]


def _train_finetune(model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
                    args: TrainStanceArgs, log) -> dict:
    """LP-FT: fit the head on frozen embeddings first, then fine-tune encoder (or its top layers) and head.

    Starting from a fitted head keeps the first fine-tuning steps from wrecking the pretrained features
    (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features"); the head gets its own, larger
    learning rate because it reads L2-normalised embeddings whose entries are small.
    """
    enc = model.encoder
    rng = np.random.default_rng(args.seed)
    y_all = np.array(train.y)
    yd = np.array(dev.y) if dev is not None else None
    top = None
    if args.mode == "partial":
        top = _TopLayers(enc, args.train_layers)
        log(f"caching the frozen lower layers' output for {len(train)} + {len(dev) if dev else 0} sentences")
        cached = top.cache(train.texts)
        cached_dev = top.cache(dev.texts) if dev is not None else None
        x0, xd0 = top.embed(cached), (top.embed(cached_dev) if dev is not None else None)
        lengths = [len(s) for s in cached]
    else:
        x0 = torch.as_tensor(enc.encode(train.texts))
        xd0 = torch.as_tensor(enc.encode(dev.texts)) if dev is not None else None
        lengths = enc.count_tokens(train.texts)
    ep, f1 = _fit_linear_probe(model.head, x0, y_all, xd0, yd)
    log(f"linear probe: dev macro-F1 {f1:.4f} (epoch {ep})")
    if args.mode == "adapter":
        from peft import LoraConfig, get_peft_model

        enc.model = get_peft_model(enc.model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r,
                                                         lora_dropout=0.1, target_modules=["query", "key", "value", "dense"]))
    elif args.mode == "full":
        for p in enc.model.parameters():
            p.requires_grad = True
    enc_params = [p for p in enc.model.parameters() if p.requires_grad]
    head_params = list(model.head.parameters())
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.lr},
                             {"params": head_params, "lr": args.head_lr}], weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, 0.1 * steps))
                                              * max(0.0, (steps - s) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y_all).to(enc.device))

    def dev_proba() -> np.ndarray:
        if top is not None:
            with torch.inference_mode():
                return torch.sigmoid(model.head(top.embed(cached_dev)).squeeze(-1)).numpy()
        return model.predict_proba(dev.texts)[:, 1]

    def snapshot() -> tuple[dict, dict]:
        return ({k: v.detach().clone() for k, v in enc.model.state_dict().items()},
                {k: v.detach().clone() for k, v in model.head.state_dict().items()})

    best = {"f1": f1, "epoch": 0, "state": snapshot() if dev is not None else None}
    curve = [{"epoch": 0, "dev_macro_f1": round(f1, 4)}]
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        enc.model.train()
        model.head.train()
        total = 0.0
        for idx in _length_batches(lengths, args.batch_size, rng):
            if top is not None:
                emb = top.forward([cached[j] for j in idx])
            else:
                emb = enc.forward(enc.tokenize([train.texts[j] for j in idx]))
            logits = model.head(emb).squeeze(-1)
            loss = loss_fn(logits, torch.as_tensor(y_all[idx], dtype=torch.float32, device=enc.device))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(enc_params + head_params, 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        enc.model.eval()
        model.head.eval()
        msg = f"epoch {epoch}: train loss {total / len(train):.4f} ({time.time() - t0:.0f}s)"
        if dev is not None:
            thr, f1 = best_threshold(yd, dev_proba())
            curve.append({"epoch": epoch, "dev_macro_f1": round(f1, 4), "threshold": thr})
            msg += f", dev macro-F1 {f1:.4f} at threshold {thr:.2f}"
            if f1 > best["f1"]:
                best = {"f1": f1, "epoch": epoch, "state": snapshot()}
        log(msg)
    if best["state"] is not None:
        enc.model.load_state_dict(best["state"][0])
        model.head.load_state_dict(best["state"][1])
    if args.mode == "adapter":
        model.encoder.model = enc.model
    if args.mode == "partial":
        round_to_half(enc.model, args.train_layers)
    for p in enc.model.parameters():
        p.requires_grad = False
    return {"best_epoch": best["epoch"] if dev is not None else args.epochs, "curve": curve}


def calibrate_on_basil(model: StanceModel, basil_dir: str, max_fer: float = 0.02, log=print) -> dict:
    """Set the model's in-article threshold and article rule from BASIL's calibration half.

    Returns the calibration record, with the false-editorial rate on all 300 reports and on each half.
    """
    from .data import load_basil

    rows = load_basil(basil_dir)
    evidence = article_evidence(model, rows)
    calib = [e for e, r in zip(evidence, rows, strict=True) if r["half"] == "calib"]
    ct, rule, record = calibrate_article_rule(calib, model.config.threshold, max_fer=max_fer,
                                              base=model.config.article_rule)
    model.config.commentary_threshold, model.config.article_rule = ct, rule
    for half in ("all", "calib", "heldout"):
        sel = [e for e, r in zip(evidence, rows, strict=True) if half == "all" or r["half"] == half]
        labels = [rule.probability(int(e.flags(ct).sum()), len(e.probabilities)) >= 0.5 for e in sel]
        record[f"basil_fer_{half}"] = round(float(np.mean(labels)), 4)
    log(f"article rule calibrated on {record['n_articles']} BASIL reports: {json.dumps(record, sort_keys=True)}")
    return record


def _load_init(args: TrainStanceArgs) -> StanceModel:
    """The ``--init`` checkpoint, checked to be one this run can continue from and still save faithfully."""
    init = StanceModel.from_pretrained(args.init)
    allowed = {"partial": ("partial", "full"), "full": ("full",)}.get(init.config.mode, ())
    if args.mode not in allowed:
        raise DataError(f"--init {args.init}: a {init.config.mode!r} checkpoint cannot start a {args.mode!r} run "
                        "(a partial one can start partial or full runs, a full one full runs)")
    if init.config.encoder != args.encoder:
        raise DataError(f"--init {args.init} was trained from encoder {init.config.encoder!r}, "
                        f"not --encoder {args.encoder!r}")
    return init


def train_stance(args: TrainStanceArgs, log=print) -> dict:
    """Train, choose epoch and threshold on dev, evaluate, and write the checkpoint. Returns metrics."""
    t0 = time.time()
    init = _load_init(args) if args.init else None  # before seeding, so loading it cannot move the RNG
    set_seed(args.seed)
    train = concat([load_sentences(p, args.format) for p in args.data])
    dev = concat([load_sentences(p) for p in args.dev]) if args.dev else None
    excluded = [load_sentences(p) for p in args.exclude]
    train, dropped = deduplicate(train, *([dev] if dev else []), *excluded)
    if args.limit:
        train = LabelledSentences(train.texts[: args.limit], train.labels[: args.limit], train.source)
    if dev is None and args.dev_fraction > 0 and len(train) >= 20:
        train, dev = split_dev(train, args.dev_fraction, args.seed)
        log(f"no --dev given: holding out {len(dev)} training sentences (stratified) to pick epoch and threshold")
    if len(set(train.labels)) < 2:
        raise DataError("training data must hold both labels, neutral and editorial")
    log(f"training on {len(train)} sentences ({dropped} duplicates of dev/held-out or repeats dropped)")
    model = StanceModel.new(args.encoder, mode=args.mode, hidden=args.hidden, max_length=args.max_length)
    model.head = build_head(model.config.dim, args.hidden)
    if args.mode == "partial":
        model.config.train_layers = args.train_layers
    if init is not None:
        model.encoder.model.load_state_dict(init.encoder.model.state_dict())
        log(f"encoder initialised from {args.init} ({init.config.mode}, trained on "
            f"{', '.join(init.config.training.get('data', [])) or 'unknown data'})")
    if args.mode == "fast":
        info = _train_head_fast(model, train, dev, args, log)
    else:
        info = _train_finetune(model, train, dev, args, log)
    metrics: dict[str, dict] = {}
    threshold = 0.5
    if dev is not None:
        p = model.predict_proba(dev.texts)[:, 1]
        yd = np.array(dev.y)
        prior = float(np.mean(train.y)) if args.threshold_prior == "train" else None
        threshold, weighted = best_threshold(yd, p, prior)
        metrics["dev"] = {"macro_f1": round(macro_f1(yd, (p >= threshold).astype(int)), 4),
                          "macro_f1_at_0.5": round(macro_f1(yd, (p >= 0.5).astype(int)), 4),
                          "threshold_prior": args.threshold_prior, "editorial_share": round(float(yd.mean()), 4),
                          "train_editorial_share": round(float(np.mean(train.y)), 4), "n": len(dev)}
        if prior is not None:  # the score the threshold (and a choice among seeds) is made on
            metrics["dev"]["macro_f1_at_train_prior"] = round(weighted, 4)
    model.config.threshold = threshold
    if init is not None and args.mode == "partial":  # save every layer either stage changed
        model.config.train_layers = max(args.train_layers, init.config.train_layers)
    if args.article_rule:
        model.config.article_rule = ArticleRule(**args.article_rule)
    if args.calibrate_articles:
        metrics["basil_article_rule"] = calibrate_on_basil(model, args.calibrate_articles, args.max_fer, log)
    for ex in excluded:
        p = model.predict_proba(ex.texts)[:, 1]
        metrics[Path(ex.source).name] = {"macro_f1": round(macro_f1(np.array(ex.y), (p >= threshold).astype(int)), 4),
                                         "n": len(ex)}
    init_data = list(init.config.training.get("data", [])) if init is not None else []
    sources = ([f"{d} (first stage, --init {args.init})" for d in init_data] + list(args.data)
               + [f"{d} (dev: epoch and threshold)" for d in args.dev])
    if args.calibrate_articles:
        sources.append(f"{args.calibrate_articles} (calibration half: in-article threshold and article rule)")
    if not args.dev and dev is not None:
        sources.append(f"{len(dev)} sentences held out of the training data (dev: epoch and threshold)")
    used = init_data + args.data + args.dev + ([args.calibrate_articles] if args.calibrate_articles else [])
    licences = sorted({lic for key, lic in LICENCES.items() if any(key in s.lower() for s in used)})
    model.config.training = {
        "data": sources, "excluded": list(args.exclude), "licences": licences, "metrics": metrics,
        "n_train": len(train), "dropped_duplicates": dropped, "seed": args.seed, "mode": args.mode,
        "epochs": args.epochs, "lr": args.lr, "best_epoch": info["best_epoch"], "curve": info.get("curve", []), "command": args.command,
        "seconds": round(time.time() - t0, 1),
    }
    model.save_pretrained(args.out, card=model_card(model.config),
                          extra_files={"training_args.json": json.dumps(asdict(args), indent=2, sort_keys=True) + "\n"})
    log(f"wrote {args.out}: threshold {threshold:.2f}, metrics {json.dumps(metrics, sort_keys=True)}")
    return metrics


__all__ = ["TrainStanceArgs", "train_stance", "macro_f1", "best_threshold", "set_seed", "StanceConfig", "Encoder"]


# -- article rule calibration ----------------------------------------------------------------------
@dataclass
class ArticleEvidence:
    """Per body sentence of one article: P(commentary) and whether it is reported speech."""

    probabilities: np.ndarray
    reported: np.ndarray
    voice: np.ndarray | None = None  # writer's own voice outside quotes: commentary at any probability

    def flags(self, threshold: float) -> np.ndarray:
        own = self.probabilities >= threshold
        if self.voice is not None:
            own = own | self.voice
        return own & ~self.reported


def article_evidence(model: StanceModel, rows: list[dict]) -> list[ArticleEvidence]:
    """Sentence probabilities and reported-speech flags for the body sentences of each article."""
    from model.claims import attribute
    from model.text import Article

    articles = [Article(r["text"], id=r.get("id"), title=r.get("title")) for r in rows]
    body = [[s.text for s in a.sentences if not s.is_title] for a in articles]
    probs = model.predict_proba([t for b in body for t in b])[:, 1]
    out, pos = [], 0
    for b in body:
        p = probs[pos : pos + len(b)]
        pos += len(b)
        out.append(ArticleEvidence(p, np.array([attribute(t).reported for t in b], dtype=bool),
                                   np.array([writer_voice(t) for t in b], dtype=bool)))
    return out


def calibrate_article_rule(evidence: list[ArticleEvidence], sentence_threshold: float,
                           max_fer: float = 0.02, max_flag_rate: float = 0.05,
                           base: ArticleRule | None = None) -> tuple[float, ArticleRule, dict]:
    """Choose the in-article commentary threshold and the rule's share cut-off on straight news.

    Every calibration article is gold ``neutral``, so this is a Neyman-Pearson choice: the most
    sensitive settings whose false-editorial rate stays within ``max_fer``. The commentary threshold is
    the smallest value >= the dev-chosen sentence threshold at which at most ``max_flag_rate`` of the
    non-reported body sentences of straight news are flagged (wire copy is written to avoid
    commentary; a reader should not see a sea of flags). ``min_count`` stays at the documented 2:
    one stray sentence never makes an editorial. ``min_share`` is then the smallest value on a 0.01
    grid for which at most ``max_fer`` of the articles come out editorial.
    """
    base = base or ArticleRule()
    own = np.concatenate([e.probabilities[~e.reported] for e in evidence]) if evidence else np.zeros(0)
    threshold = float(sentence_threshold)
    for t in np.arange(sentence_threshold, 0.995, 0.01):
        threshold = float(round(t, 2))
        if len(own) == 0 or float((own >= t).mean()) <= max_flag_rate:
            break
    counts = [(int(e.flags(threshold).sum()), len(e.probabilities)) for e in evidence]
    chosen = None
    for share in np.arange(0.05, 0.61, 0.01):
        rule = ArticleRule(min_share=float(round(share, 2)), min_count=base.min_count,
                           k_share=base.k_share, k_count=base.k_count)
        fer = float(np.mean([rule.probability(n, m) >= 0.5 for n, m in counts])) if counts else 0.0
        if fer <= max_fer:
            chosen = (rule, fer)
            break
    if chosen is None:
        chosen = (ArticleRule(min_share=0.6, min_count=base.min_count, k_share=base.k_share,
                              k_count=base.k_count), float("nan"))
    rule, fer = chosen
    flag_rate = float((own >= threshold).mean()) if len(own) else 0.0
    info = {"n_articles": len(evidence), "commentary_threshold": threshold, "flag_rate": round(flag_rate, 4),
            "false_editorial_rate": round(fer, 4), "min_share": rule.min_share}
    return threshold, rule, info
