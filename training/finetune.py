"""The stance training loops: a fast head over frozen embeddings, and LP-FT fine-tuning (partial, adapter,
full) that keeps the epoch with the best dev macro-F1."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from presslens.model.encoder import Encoder, length_buckets, mean_pool
from presslens.model.stance import (
    StanceModel,
    round_to_half,
    top_layer_prefixes,
)
from transformers import get_linear_schedule_with_warmup

from .data import LabelledSentences
from .selection import best_threshold, macro_f1

if TYPE_CHECKING:
    from .stance_args import TrainStanceArgs


def _pos_weight(y: np.ndarray) -> torch.Tensor:
    pos = max(1, int(y.sum()))
    return torch.tensor([(len(y) - pos) / pos], dtype=torch.float32)


def train_head_fast(model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
                     args: TrainStanceArgs, log) -> dict:
    x = torch.as_tensor(model.encoder.encode(train.texts))
    y = torch.as_tensor(train.y, dtype=torch.float32)
    xd = torch.as_tensor(model.encoder.encode(dev.texts)) if dev else None
    head = model.head.train()
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y.numpy()))
    best = {"f1": -1.0, "epoch": 0, "state": None}
    log(f"fast head: {args.epochs} epochs over {len(train.texts)} embedded sentences")
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


class TopLayers:
    """Run only the top ``k`` layers of a BERT-style encoder from cached inputs.

    Partial fine-tuning leaves the embeddings and the lower layers frozen, so their output for each
    sentence is computed once; every epoch then costs only the top layers' forward and backward pass.
    """

    def __init__(self, enc: Encoder, k: int):
        top_layer_prefixes(enc.model, k)  # validates the architecture and k
        self.enc = enc
        self.body = enc.model.encoder  # kept: a LoRA wrapper applied later adapts these same layer modules
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
        # MPNet adds a relative position bias, computed once per batch, to every layer's attention
        bias = self.body.compute_position_bias(h) if hasattr(self.body, "compute_position_bias") else None
        with self.enc.autocast():
            for layer in self.layers:
                out = layer(h, ext) if bias is None else layer(h, ext, bias)
                h = out[0] if isinstance(out, tuple) else out
        return torch.nn.functional.normalize(mean_pool(h.float(), mask), p=2, dim=-1)

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


@dataclass
class _Examples:
    """What the fine-tuning loop fits: the gold sentences first, then any soft-labelled ones (distillation)."""

    texts: list[str]
    targets: np.ndarray  # in [0, 1]: gold labels, or the teacher's tempered probabilities
    weights: np.ndarray
    n_gold: int

    @classmethod
    def of(cls, train: LabelledSentences, soft: tuple[list[str], np.ndarray] | None, gold_weight: float) -> _Examples:
        y = np.asarray(train.y, dtype=np.float32)
        if not soft:
            return cls(list(train.texts), y, np.ones(len(y), dtype=np.float32), len(y))
        return cls(list(train.texts) + list(soft[0]), np.concatenate([y, np.asarray(soft[1], dtype=np.float32)]),
                   np.concatenate([np.full(len(y), gold_weight, dtype=np.float32), np.ones(len(soft[0]), dtype=np.float32)]),
                   len(y))


def lora_targets(model: torch.nn.Module) -> list[str]:
    """The projections LoRA adapts: attention (MPNet q/k/v/o, BERT query/key/value) and the dense layers."""
    leaves = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if {"q", "k", "v", "o"} <= leaves:
        return ["q", "k", "v", "o", "dense"]
    return ["query", "key", "value", "dense"]


def _top_layers(args: TrainStanceArgs) -> int:
    """How many top layers train on cached lower-layer outputs (0: the whole encoder runs every step)."""
    if args.mode == "partial":
        return args.train_layers
    return args.adapter_layers if args.mode == "adapter" else 0


@dataclass
class _Features:
    """What fine-tuning reads per sentence: embeddings for the probe, lengths for batching, and (partial
    mode) the frozen lower layers' cached output for train and dev."""

    x: torch.Tensor
    xd: torch.Tensor | None
    lengths: list[int]
    top: TopLayers | None = None
    cached: list[torch.Tensor] | None = None
    cached_dev: list[torch.Tensor] | None = None
    #: every example's embedding by the starting encoder (``--anchor-weight``), row-aligned with the examples
    anchor: torch.Tensor | None = None


def _features(enc: Encoder, ex: _Examples, dev: LabelledSentences | None, args: TrainStanceArgs,
              log) -> _Features:
    """The probe's embeddings (gold sentences only) and, with cached lower layers, every example's states."""
    if _top_layers(args):
        top = TopLayers(enc, _top_layers(args))
        log(f"caching the frozen lower layers' output for {len(ex.texts)} + {len(dev) if dev else 0} sentences")
        cached = top.cache(ex.texts)
        cached_dev = top.cache(dev.texts) if dev is not None else None
        anchor = None
        if args.anchor_weight:
            log(f"embedding {len(ex.texts)} sentences with the starting encoder (the anchor)")
            anchor = top.embed(cached)
        x = anchor[: ex.n_gold] if anchor is not None else top.embed(cached[: ex.n_gold])
        return _Features(x, top.embed(cached_dev) if dev is not None else None,
                         [len(s) for s in cached], top, cached, cached_dev, anchor)
    return _Features(torch.as_tensor(enc.encode(ex.texts[: ex.n_gold])),
                     torch.as_tensor(enc.encode(dev.texts)) if dev is not None else None,
                     enc.count_tokens(ex.texts))


def _open_encoder(enc: Encoder, args: TrainStanceArgs) -> None:
    """Make the parameters this mode fine-tunes trainable (partial mode did so in TopLayers)."""
    if args.mode == "adapter":
        from peft import LoraConfig, get_peft_model

        n_layers = len(enc.model.encoder.layer)
        only_top = {"layers_to_transform": list(range(n_layers - args.adapter_layers, n_layers)),
                    "layers_pattern": "layer"} if args.adapter_layers else {}
        enc.model = get_peft_model(enc.model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.1,
                                                         target_modules=lora_targets(enc.model), **only_top))
    elif args.mode == "full":
        for p in enc.model.parameters():
            p.requires_grad = True


def _optimizer(enc_params: list, head_params: list, args: TrainStanceArgs, steps: int):
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.lr},
                             {"params": head_params, "lr": args.head_lr}], weight_decay=1e-2)
    # The library's schedule: linear warm-up over the first 10% of steps, then linear decay to 0.
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=max(1, round(0.1 * steps)),
                                            num_training_steps=max(1, steps))
    return opt, sched


def _run_epoch(model: StanceModel, feats: _Features, ex: _Examples, opt, sched,
               loss_fn, params: list, rng: np.random.Generator, batch_size: int, anchor_weight: float = 0.0) -> float:
    """One pass over the training data in length-sorted, shuffled batches; returns the summed loss.

    With an anchor, each sentence's embedding also pays ``anchor_weight * (1 - cos)`` against the starting
    encoder's embedding of it: stance moves the space only where that pays more than it costs the cosines
    that claim links and summaries read."""
    enc = model.encoder
    enc.model.train()
    model.head.train()
    total = 0.0
    for idx in _length_batches(feats.lengths, batch_size, rng):
        if feats.top is not None:
            emb = feats.top.forward([feats.cached[j] for j in idx])
        else:
            emb = enc.forward(enc.tokenize([ex.texts[j] for j in idx]))
        logits = model.head(emb).squeeze(-1)
        loss = (loss_fn(logits, torch.as_tensor(ex.targets[idx], device=enc.device))
                * torch.as_tensor(ex.weights[idx], device=enc.device)).mean()
        if anchor_weight and feats.anchor is not None:
            cos = (emb * feats.anchor[idx].to(emb.device)).sum(-1)
            loss = loss + anchor_weight * (1.0 - cos).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        total += loss.item() * len(idx)
    enc.model.eval()
    model.head.eval()
    return total


def _snapshot(model: StanceModel) -> tuple[dict, dict]:
    return ({k: v.detach().clone() for k, v in model.encoder.model.state_dict().items()},
            {k: v.detach().clone() for k, v in model.head.state_dict().items()})


def _dev_proba(model: StanceModel, feats: _Features, dev: LabelledSentences) -> np.ndarray:
    if feats.top is not None:
        with torch.inference_mode():
            return torch.sigmoid(model.head(feats.top.embed(feats.cached_dev)).squeeze(-1)).numpy()
    return model.predict_proba(dev.texts)[:, 1]


def train_finetune(model: StanceModel, train: LabelledSentences, dev: LabelledSentences | None,
                   args: TrainStanceArgs, log, soft: tuple[list[str], np.ndarray] | None = None,
                   watch: LabelledSentences | None = None, stop_epoch: int | None = None) -> dict:
    """LP-FT: fit the head on frozen embeddings first, then fine-tune encoder (or its top layers) and head.

    Starting from a fitted head keeps the first fine-tuning steps from wrecking the pretrained features
    (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features"); the head gets its own, larger
    learning rate because it reads L2-normalised embeddings whose entries are small.

    ``soft``: extra (texts, targets in [0, 1]) fitted beside the gold sentences, the teacher's soft labels
    when distilling; a gold sentence then counts ``args.gold_weight``, a soft one 1.

    ``watch``: held-out sentences scored after every epoch and chosen on by nothing here (a cross-validation
    fold); their probabilities come back as ``watch_proba`` (one array per epoch). ``stop_epoch``: stop after
    that epoch while the learning-rate schedule still spans ``args.epochs`` (the final run of a
    cross-validation that chose an epoch inside the schedule it ran).
    """
    enc = model.encoder
    rng = np.random.default_rng(args.seed)
    y_all = np.array(train.y)
    ex = _Examples.of(train, soft, args.gold_weight)
    yd = np.array(dev.y) if dev is not None else None
    feats = _features(enc, ex, dev, args, log)
    ep, f1 = _fit_linear_probe(model.head, feats.x, y_all, feats.xd, yd)
    log(f"linear probe: dev macro-F1 {f1:.4f} (epoch {ep})" if dev is not None else f"linear probe: {ep} epochs")
    _open_encoder(enc, args)
    enc_params = [p for p in enc.model.parameters() if p.requires_grad]
    head_params = list(model.head.parameters())
    steps = args.epochs * ((len(ex.texts) + args.batch_size - 1) // args.batch_size)
    opt, sched = _optimizer(enc_params, head_params, args, steps)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_pos_weight(y_all).to(enc.device), reduction="none")
    best = {"f1": f1, "epoch": 0, "state": _snapshot(model) if dev is not None else None}
    curve = [{"epoch": 0, "dev_macro_f1": round(f1, 4)}]
    watched: list[np.ndarray] = []
    for epoch in range(1, (stop_epoch or args.epochs) + 1):
        t0 = time.time()
        total = _run_epoch(model, feats, ex, opt, sched, loss_fn, enc_params + head_params, rng, args.batch_size,
                           args.anchor_weight)
        msg = f"epoch {epoch}: train loss {total / len(ex.texts):.4f} ({time.time() - t0:.0f}s)"
        if dev is not None:
            thr, f1 = best_threshold(yd, _dev_proba(model, feats, dev))
            curve.append({"epoch": epoch, "dev_macro_f1": round(f1, 4), "threshold": thr})
            msg += f", dev macro-F1 {f1:.4f} at threshold {thr:.2f}"
            if f1 > best["f1"]:
                best = {"f1": f1, "epoch": epoch, "state": _snapshot(model)}
        if watch is not None:
            watched.append(model.predict_proba(watch.texts)[:, 1])
            msg += f", held-out macro-F1 {macro_f1(np.array(watch.y), (watched[-1] >= 0.5).astype(int)):.4f} at 0.5"
        log(msg)
    if best["state"] is not None:
        enc.model.load_state_dict(best["state"][0])
        model.head.load_state_dict(best["state"][1])
    info = {}
    if args.mode == "adapter" and feats.top is not None and dev is not None:
        info["dev_proba"] = _dev_proba(model, feats, dev)  # from the cached lower layers: no full pass
    if args.mode == "partial":
        round_to_half(enc.model, args.train_layers)
    for p in enc.model.parameters():
        p.requires_grad = False
    if watch is not None:
        info["watch_proba"] = watched
    return {"best_epoch": best["epoch"] if dev is not None else (stop_epoch or args.epochs), "curve": curve, **info}
