"""The stance head: a linear layer (or Linear-GELU-Linear) over pooled sentence embeddings, in torch for
training and in numpy for torch-free serving (``NumpyHead``, the same probabilities to float rounding)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .encoder import ModelLoadError

if TYPE_CHECKING:
    import torch

HEAD_NAME = "head.safetensors"


def build_head(dim: int, hidden: int = 0) -> torch.nn.Module:
    import torch

    if hidden:
        return torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.GELU(), torch.nn.Dropout(0.1), torch.nn.Linear(hidden, 1)
        )
    return torch.nn.Sequential(torch.nn.Linear(dim, 1))


class NumpyHead:
    """The stance head's forward in numpy (a linear layer, or Linear-GELU-Linear), for torch-free serving.

    Built from the ``head.safetensors`` state; ``to_torch`` gives the equivalent ``build_head`` module.
    """

    def __init__(self, state: dict[str, np.ndarray], dim: int, hidden: int = 0):
        names = ("0", "3") if hidden else ("0",)
        shapes = [(hidden, dim), (1, hidden)] if hidden else [(1, dim)]
        expected = {f"{n}.{w}" for n in names for w in ("weight", "bias")}
        if set(state) != expected:
            raise ModelLoadError(f"{HEAD_NAME} does not match the config (dim/hidden): tensors {sorted(state)}, "
                                 f"expected {sorted(expected)}")
        for n, shape in zip(names, shapes, strict=True):
            if state[f"{n}.weight"].shape != shape or state[f"{n}.bias"].shape != shape[:1]:
                raise ModelLoadError(f"{HEAD_NAME} does not match the config (dim/hidden): {n}.weight has shape "
                                     f"{state[f'{n}.weight'].shape}, expected {shape}")
        self.state = {k: v.astype(np.float32) for k, v in state.items()}
        self.dim, self.hidden = dim, hidden

    def proba(self, x: np.ndarray) -> np.ndarray:
        s = self.state
        x = np.asarray(x, dtype=np.float32)
        if self.hidden:
            h = x @ s["0.weight"].T + s["0.bias"]
            x = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))  # exact GELU, as torch.nn.GELU()
            logit = x @ s["3.weight"].T + s["3.bias"]
        else:
            logit = x @ s["0.weight"].T + s["0.bias"]
        return (1.0 / (1.0 + np.exp(-logit[:, 0].astype(np.float64)))).astype(np.float32)

    def to_torch(self) -> torch.nn.Module:
        import torch

        head = build_head(self.dim, self.hidden)
        head.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.state.items()})
        return head.eval()


def head_state(head) -> dict[str, np.ndarray]:
    """The head's weights as float32 arrays by tensor name, whichever form it is in (numpy or torch)."""
    if isinstance(head, NumpyHead):
        return dict(head.state)
    return {k: v.detach().cpu().float().numpy() for k, v in head.state_dict().items()}


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float32])(x)


def head_checksum(head) -> str:
    """sha256 over a stance head's tensors (names, shapes, float32 bytes), a ``NumpyHead`` or the torch module
    alike: which head a summarizer's ``commentary`` feature was read from."""
    import hashlib

    if isinstance(head, NumpyHead):
        state = head.state
    else:
        state = {k: v.detach().cpu().float().numpy() for k, v in head.state_dict().items()}
    h = hashlib.sha256()
    for name in sorted(state):
        arr = np.ascontiguousarray(state[name], dtype=np.float32)
        h.update(f"{name}:{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()
