"""A sentence scorer that reads the whole article: a small transformer over the sequence of sentences.

As BertSumExt does over BERT's sentence vectors, every body sentence becomes one token: its encoder embedding
and its hand-built features (``model.summarizer.FEATURES``: position, centrality, headline similarity,
attribution, ...) are projected to ``d_model``, a learned position embedding (the k-th body sentence; the
last one is shared by everything past ``max_positions``) is added, and one or two pre-norm transformer layers
let each sentence see its neighbours and the article as a whole before a linear layer gives its salience
logit. An explicit context vector (the article's centroid, broadcast to every sentence, and the sentence's
difference from it) goes in beside the embedding, so the article's own topic is available from the first
layer.

The network is tiny (tens of thousands of parameters), runs in a few milliseconds per article on a CPU and
is saved as a JSON config (inside the summarizer's ``config.json``) plus a safetensors file: never pickle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

KIND = "sequence"


@dataclass
class NetworkShape:
    """The network's size: what a checkpoint records and what training chooses (``SequenceArgs`` extends it)."""

    d_model: int = 64
    layers: int = 1
    heads: int = 4
    ff: int = 128
    max_positions: int = 48
    dropout: float = 0.1

    def network_kwargs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(NetworkShape)}


@dataclass(kw_only=True)
class SequenceConfig(NetworkShape):
    features: list[str]
    embedding_dim: int
    mean: list[float] = field(default_factory=list)  # standardisation of the hand features
    scale: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.mean:
            self.mean = [0.0] * len(self.features)
        if not self.scale:
            self.scale = [1.0] * len(self.features)
        if len(self.mean) != len(self.features) or len(self.scale) != len(self.features):
            raise ValueError("one mean and one scale per feature")
        if self.d_model % self.heads or min(self.d_model, self.layers, self.heads, self.ff,
                                            self.max_positions, self.embedding_dim) < 1:
            raise ValueError("d_model must be a positive multiple of heads; sizes must be positive")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"] = [round(float(v), 6) for v in self.mean]
        d["scale"] = [round(float(v), 6) for v in self.scale]
        return d


class SequenceNet(nn.Module):
    """(batch, n, F) standardised features + (batch, n, E) embeddings + (batch, n) mask -> (batch, n) logits."""

    def __init__(self, cfg: SequenceConfig):
        super().__init__()
        d = cfg.d_model
        self.feat = nn.Linear(len(cfg.features), d)
        self.emb = nn.Linear(cfg.embedding_dim, d)
        self.ctx = nn.Linear(2 * cfg.embedding_dim, d, bias=False)
        self.pos = nn.Embedding(cfg.max_positions, d)
        self.inp_norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff, cfg.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)
        self.max_positions = cfg.max_positions

    def forward(self, feats: torch.Tensor, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(emb.dtype)
        centroid = (emb * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1.0)
        centroid = centroid / centroid.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        centroid = centroid.expand_as(emb)
        positions = torch.arange(emb.shape[1], device=emb.device).clamp(max=self.max_positions - 1)
        x = (self.feat(feats) + self.emb(emb) + self.ctx(torch.cat([centroid, emb - centroid], -1))
             + self.pos(positions).unsqueeze(0))
        x = self.encoder(self.inp_norm(x), src_key_padding_mask=~mask)
        return self.out(self.out_norm(x)).squeeze(-1)


class SequenceScorer:
    """Inference wrapper: standardise the features, run the network, return probabilities per sentence."""

    kind = KIND

    def __init__(self, config: SequenceConfig, net: SequenceNet | None = None):
        self.config = config
        self.net = net if net is not None else SequenceNet(config)
        self.net.eval()
        self.features = list(config.features)
        self._mean = np.asarray(config.mean, dtype=np.float32)
        self._scale = np.asarray(config.scale, dtype=np.float32)

    def standardise(self, feats: np.ndarray, columns: list[int]) -> np.ndarray:
        return (feats[:, columns] - self._mean) / self._scale

    def logits(self, feats: np.ndarray, emb: np.ndarray, columns: list[int]) -> np.ndarray:
        if len(feats) == 0:
            return np.zeros(0, dtype=np.float32)
        if emb.shape[1] != self.config.embedding_dim:
            raise ValueError(f"the sequence scorer expects {self.config.embedding_dim}-d embeddings, "
                             f"got {emb.shape[1]}-d: retrain it on this encoder")
        with torch.inference_mode():
            f = torch.from_numpy(np.ascontiguousarray(self.standardise(feats, columns), dtype=np.float32))
            e = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
            mask = torch.ones(1, len(f), dtype=torch.bool)
            return self.net(f.unsqueeze(0), e.unsqueeze(0), mask)[0].numpy()

    def probabilities(self, feats: np.ndarray, emb: np.ndarray, columns: list[int]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(feats, emb, columns)))

    # -- persistence: the config goes into the summarizer's config.json, the tensors beside it -------
    def to_dict(self, weights_file: str) -> dict:
        return {"kind": KIND, "weights": weights_file, "config": self.config.to_dict()}

    def save_weights(self, path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().clone() for k, v in sorted(self.net.state_dict().items())}
        save_file(state, str(path), metadata={"format": "presslens-sequence-scorer"})

    @classmethod
    def from_dict(cls, d: dict, directory: Path) -> SequenceScorer:
        from safetensors.torch import load_file

        config = SequenceConfig(**d["config"])
        name = str(d["weights"])
        if Path(name).name != name or not name.endswith(".safetensors"):
            raise ValueError(f"weights file {name!r} must be a .safetensors file beside config.json")
        net = SequenceNet(config)
        try:
            state = load_file(str(directory / name))
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"cannot read {name}: {exc}") from exc
        try:
            missing, unexpected = net.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # tensor shapes that do not follow the config
            raise ValueError(f"{name} does not fit its config: {str(exc).splitlines()[0]}") from exc
        if missing or unexpected:
            raise ValueError(f"{name}: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        return cls(config, net)
