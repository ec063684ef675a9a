"""Stance: the probability that a sentence is the writer's own commentary, and the article label.

A ``StanceModel`` owns an encoder (the packaged default, a hub id, a directory, optionally adapted with a
LoRA adapter or fully fine-tuned) and a small head over its pooled embeddings. ``save_pretrained`` writes
``config.json``, ``head.safetensors``, the adapter or encoder weights when they were trained, and a
``README.md`` model card; ``from_pretrained`` reads exactly that back and refuses anything else (pickles
included).

The article rule (documented in the README): inside an article a sentence is *commentary* when it is not
the headline, not reported speech (a quoted or attributed opinion is reporting: ``model.claims.attribute``),
and either its probability reaches the in-article threshold (at least the dev-chosen sentence threshold,
raised until at most 5% of the writer's own sentences in straight news reports, the BASIL calibration
half, are flagged) or it speaks in the writer's own voice outside quotes (``writer_voice``: first person,
a question put to the reader, "Guess ...", "No doubt ..."; each rule's measured effect off the seeds is in
``model/voice.py``). With ``n`` commentary sentences among ``m`` body sentences,

    P(editorial) = sigmoid(k_share * (n/m - min_share)) * sigmoid(k_count * (n - min_count + 0.5))

and the article is ``editorial`` when P(editorial) >= 0.5. Several confident asides make an editorial; a
single stray sentence in a long report does not.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load_file as load_numpy

from . import commentary as _commentary
from .card import model_card
from .claims import attribute, resolve_speakers
from .encoder import DEFAULT_ENCODER, Encoder, ModelLoadError, load_tokenizer_and_model, resolve_model_path
from .features import Stacker
from .head import HEAD_NAME, NumpyHead, build_head, head_checksum
from .io import atomic_dir
from .lexical import LexicalBranch

if TYPE_CHECKING:
    import torch

    from .text import Article

# torch is imported where it is used, not here: a model served through ONNX Runtime (model/runtime/onnx.py) runs
# its head in numpy and never loads torch, which saves the server a second of start-up and ~200 MB.

LABELS = ("neutral", "editorial")
ID2LABEL = {0: "neutral", 1: "editorial"}
CONFIG_NAME = "config.json"
FORMAT = "presslens-stance"
FORMAT_VERSION = 1
MODES = ("fast", "adapter", "partial", "full")
LAYERS_NAME = "encoder_layers.safetensors"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


@dataclass
class ArticleRule:
    """An article is editorial when ``sigmoid(k_share * (share - min_share)) * sigmoid(k_count * (n - min_count
    + 0.5)) >= 0.5`` for ``n`` commentary sentences, ``share`` of its body: both enough commentary and enough
    of it. ``min_share`` is calibrated on BASIL's calibration half (``presslens calibrate``)."""

    min_share: float = 0.12
    min_count: int = 2
    k_share: float = 25.0
    k_count: float = 3.0

    def probability(self, n_commentary: int, n_sentences: int) -> float:
        if n_sentences <= 0:
            return 0.0
        share = n_commentary / n_sentences
        a = 1.0 / (1.0 + math.exp(-self.k_share * (share - self.min_share)))
        b = 1.0 / (1.0 + math.exp(-self.k_count * (n_commentary - self.min_count + 0.5)))
        return a * b


@dataclass
class StanceConfig:
    encoder: str = DEFAULT_ENCODER
    # fast: frozen encoder + head; adapter: LoRA + head; partial: the top ``train_layers`` encoder layers
    # fine-tuned (only they are saved, as float16, over the base encoder); full: whole encoder fine-tuned
    mode: str = "fast"
    train_layers: int = 0
    dim: int = 384
    hidden: int = 0  # 0: a linear head; otherwise one hidden layer of this width
    max_length: int = 128
    threshold: float = 0.5  # sentence label on its own (CheckThat!-style), chosen on dev data
    # Inside an article: a sentence is marked commentary at this (stricter) threshold, calibrated on straight
    # news; None means ``threshold``.
    commentary_threshold: float | None = None
    article_rule: ArticleRule = field(default_factory=ArticleRule)
    id2label: dict = field(default_factory=lambda: dict(ID2LABEL))
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    training: dict = field(default_factory=dict)
    # fast mode: ``weights_checksum`` of the frozen encoder the head was trained on. The reference above
    # says where to load it from; this says which weights the head expects (a fine-tuned encoder keeps its
    # base's reference), so a served encoder is reused only when it is that very encoder.
    encoder_checksum: str | None = None
    # The writer-voice rule (``model.voice.writer_voice``: first person, a question to the reader, "Guess ...")
    # marks a sentence commentary inside an article whatever its probability. A switch, so its effect can be
    # measured (``presslens eval stance --voice-rules on|off``); checkpoints from before it had it on.
    voice_rules: bool = True
    # Cosines between this encoder's sentence embeddings, chosen on labelled pairs of news sentences by
    # ``presslens calibrate`` (``training/calibrate.py``): two sentences of different articles carry the same
    # claim (the coverage view's links), and a close paraphrase (the summarizer's support feature). The
    # defaults are the hand-set values checkpoints had before they were calibrated: ``calibration`` then
    # holds no ``links`` record and the model card says "not calibrated".
    link_threshold: float = 0.7
    support_threshold: float = 0.6
    # per calibrated constant group ("links", "articles"): the data it was chosen on and its figures
    calibration: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StanceConfig:
        if d.get("format") != FORMAT:
            raise ModelLoadError(f"config.json is not a presslens stance config (format={d.get('format')!r})")
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelLoadError(f"stance format version {d.get('format_version')} is newer than this presslens")
        id2label = {int(k): v for k, v in d.get("id2label", {}).items()}
        if id2label != ID2LABEL:
            raise ModelLoadError(f"id2label must be {ID2LABEL}, got {id2label}")
        if d.get("mode") not in MODES:
            raise ModelLoadError(f"unknown stance mode {d.get('mode')!r}")
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["id2label"] = id2label
        kwargs["article_rule"] = ArticleRule(**d.get("article_rule", {}))
        return cls(**kwargs)


def save_file(tensors: dict, filename: str, metadata: dict | None = None) -> None:
    """``safetensors.torch.save_file``, imported when first used (serving on ONNX Runtime never loads torch)."""
    from safetensors.torch import save_file as save

    save(tensors, filename, metadata=metadata)


def load_file(filename: str) -> dict:
    """``safetensors.torch.load_file``, imported when first used."""
    from safetensors.torch import load_file as load

    return load(filename)


@dataclass
class SentenceStance:
    probability: float
    commentary: bool
    reported: bool
    speaker: str | None


@dataclass
class ArticleStance:
    label: str
    confidence: float
    editorial_probability: float
    sentences: list[SentenceStance]

    @property
    def evidence(self) -> list[int]:
        return [i for i, s in enumerate(self.sentences) if s.commentary]


class StanceModel:
    def __init__(self, config: StanceConfig, encoder: Encoder, head: torch.nn.Module | NumpyHead,
                 lexical: LexicalBranch | None = None, stacker: Stacker | None = None):
        self.config = config
        self.encoder = encoder
        self.head = head if isinstance(head, NumpyHead) else head.to(encoder.device).eval()
        self.lexical = lexical  # the TF-IDF branch, mixed in through its dev-chosen gate (model/lexical.py)
        self.stacker = stacker  # lexicon and sentiment features stacked with the logit (model/features.py)

    @classmethod
    def new(cls, encoder_ref: str = DEFAULT_ENCODER, mode: str = "fast", hidden: int = 0,
            max_length: int = 128, encoder: Encoder | None = None) -> StanceModel:
        encoder = encoder or Encoder(encoder_ref, max_length=max_length)
        config = StanceConfig(encoder=str(encoder_ref), mode=mode, dim=encoder.dim, hidden=hidden,
                              max_length=max_length)
        return cls(config, encoder, build_head(encoder.dim, hidden))

    # -- inference -------------------------------------------------------------------------------
    def proba_from_embeddings(self, embeddings: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """P(commentary) for each row of pooled embeddings from ``self.encoder`` (of ``texts``).

        With a lexical branch or a feature stacker and ``texts`` they are mixed in; without ``texts`` (the
        summarizer's ``commentary`` feature, which reads embeddings only) the probability is the encoder's alone.
        """
        if len(embeddings) == 0:
            return np.zeros(0, dtype=np.float32)
        if isinstance(self.head, NumpyHead):
            p = self.head.proba(embeddings)
        else:
            import torch

            with torch.inference_mode():
                x = torch.as_tensor(embeddings, dtype=torch.float32, device=self.encoder.device)
                p = torch.sigmoid(self.head(x).squeeze(-1)).float().cpu().numpy()
        if self.lexical is not None and self.lexical.weight and texts is not None:
            if len(texts) != len(p):
                raise ValueError(f"{len(texts)} texts for {len(p)} embeddings")
            p = self.lexical.mix(p, texts)
        if self.stacker is not None and texts is not None:
            if len(texts) != len(p):
                raise ValueError(f"{len(texts)} texts for {len(p)} embeddings")
            p = self.stacker.mix(p, texts)
        return p

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 2) probabilities in id2label order: [neutral, editorial]."""
        texts = list(texts)
        p = self.proba_from_embeddings(self.encoder.encode(texts), texts)
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, texts: Sequence[str]) -> list[str]:
        p = self.predict_proba(texts)[:, 1]
        return [self.config.id2label[int(x >= self.config.threshold)] for x in p]

    @property
    def article_threshold(self) -> float:
        c = self.config.commentary_threshold
        return float(c) if c is not None else float(self.config.threshold)

    def judge_article(self, texts: Sequence[str], probabilities: np.ndarray,
                      is_title: Sequence[bool] | None = None) -> ArticleStance:
        """Sentence commentary decisions (``commentary_flags``) and the article label from sentence probabilities."""
        is_title = list(is_title) if is_title is not None else [False] * len(texts)
        atts = [attribute(t) for t in texts]
        flags = _commentary.commentary_flags(texts, probabilities, [a.reported for a in atts], is_title,
                                             threshold=self.article_threshold, voice_rules=self.config.voice_rules)
        sentences: list[SentenceStance] = []
        last_speaker = None
        for att, p, flag in zip(atts, probabilities, flags, strict=True):
            spk = att.speaker
            if att.reported and spk is None and att.quote_fraction >= 0.5:
                spk = last_speaker  # a quotation continued from the previous sentence
            last_speaker = spk if att.reported else None
            sentences.append(SentenceStance(float(p), bool(flag), att.reported, spk))
        body = [s for s, t in zip(sentences, is_title, strict=True) if not t]
        n = sum(s.commentary for s in body)
        pe = self.config.article_rule.probability(n, len(body))
        label = "editorial" if pe >= 0.5 else "neutral"
        return ArticleStance(label, float(max(pe, 1.0 - pe)), float(pe), sentences)

    def judge(self, article: Article, emb: np.ndarray) -> ArticleStance:
        """The stance of one segmented article from its sentence embeddings: head, the commentary decision,
        the article rule, and speakers ("he said" after a sentence naming Lavrov is Lavrov speaking).
        The Analyzer and ``eval stance`` both judge through here."""
        texts = [s.text for s in article.sentences]
        stance = self.judge_article(texts, self.proba_from_embeddings(emb, texts), [s.is_title for s in article.sentences])
        resolved = resolve_speakers(texts, [st.speaker for st in stance.sentences])
        for st, spk in zip(stance.sentences, resolved, strict=True):
            st.speaker = spk
        return stance

    def fit_keys(self) -> dict:
        """What a summarizer served beside this model must have been fitted to: the encoder's weights, the
        head's, and the commentary decision's settings."""
        return {"encoder_checksum": self.encoder.checksum(), "head_checksum": head_checksum(self.head),
                "decision": _commentary.commentary_decision(self.config)}

    # -- persistence -----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, card: str | None = None,
                        extra_files: dict[str, str] | None = None) -> Path:
        """Write the checkpoint atomically: a temporary sibling directory renamed into place."""
        if isinstance(self.head, NumpyHead):
            raise ModelLoadError("a model loaded for the ONNX runtime cannot be saved; load it with runtime='torch'")
        if self.config.mode == "fast":  # the only mode whose checkpoint holds no encoder weights
            self.config.encoder_checksum = self.encoder.checksum()
        with atomic_dir(directory) as tmp:
            for name, content in (extra_files or {}).items():
                (tmp / name).write_text(content)
            save_file({k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
                      str(tmp / HEAD_NAME), metadata={"format": "pt"})
            if self.lexical is not None:
                self.lexical.save(tmp)
            if self.stacker is not None:
                self.stacker.save(tmp)
            if self.config.mode == "adapter":
                save_adapter_half(self.encoder.model, tmp / "adapter")
            elif self.config.mode == "partial":
                save_file(partial_state(self.encoder.model, self.config.train_layers), str(tmp / LAYERS_NAME),
                          metadata={"format": "pt"})
            elif self.config.mode == "full":
                self.encoder.model.save_pretrained(str(tmp / "encoder"))
                self.encoder.tokenizer.save_pretrained(str(tmp / "encoder"))
            (tmp / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=2, sort_keys=True) + "\n")
            (tmp / "README.md").write_text(card or model_card(self.config))
        return Path(directory).resolve()

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, encoder: Encoder | None = None,
                        device: str | None = None) -> StanceModel:
        """Load a checkpoint written by ``save_pretrained`` around ``encoder``, the encoder to serve it with.

        The model does not choose its runtime or precision: ``model.runtime.loader.load_stance`` does (torch,
        ONNX Runtime, or a rung of the precision ladder) and hands the encoder in here. Without one, the
        checkpoint's torch reference encoder is built (on ``device``): what training and export use.
        """
        path = Path(directory)
        config = read_config(path)
        check_safe_checkpoint(path)
        try:
            head_state = load_numpy(str(path / HEAD_NAME))
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise ModelLoadError(f"{path / HEAD_NAME} is not a readable safetensors file: {exc}") from exc
        head = NumpyHead(head_state, config.dim, config.hidden)  # checks the shapes against the config
        if encoder is None:
            encoder = torch_encoder(config, path, device)
        elif encoder.runtime != "torch":
            check_frozen_weights(config, encoder)
        if encoder.dim != config.dim:
            raise ModelLoadError(f"encoder width {encoder.dim} does not match the head's {config.dim}")
        if encoder.runtime == "torch":  # trainable: the torch module with the same weights
            head = head.to_torch()
        lexical = LexicalBranch.load(path) if LexicalBranch.present(path) else None
        stacker = Stacker.load(path) if Stacker.present(path) else None
        return cls(config, encoder, head, lexical, stacker)


def torch_encoder(config: StanceConfig, path: Path, device: str | None = None,
                  offered: Encoder | None = None) -> Encoder:
    """A checkpoint's torch reference encoder: the base with what was fine-tuned over it applied;
    ``offered`` (an encoder already loaded) is reused by a frozen-encoder checkpoint if it has its weights."""
    if config.mode == "full":
        return Encoder(path / "encoder", max_length=config.max_length, device=device)
    if config.mode == "adapter":
        return _adapted_encoder(config, path / "adapter", device)
    if config.mode == "partial":
        return _partial_encoder(config, path / LAYERS_NAME, device)
    return _frozen_encoder(config, offered if offered is not None and offered.runtime == "torch" else None, device)


def encoder_sources(config: StanceConfig, path: Path) -> tuple[list[Path], dict]:
    """The files that define a checkpoint's encoder (base weights and tokenizer, and what was fine-tuned
    over them) and the settings that change its forward: what an exported runtime graph is keyed by."""
    if config.mode == "full":
        sources = [path / "encoder"]
    else:
        base = Path(resolve_model_path(config.encoder))
        if not base.is_dir():
            raise ModelLoadError(f"encoder {config.encoder!r} is a hub id, not a local directory")
        sources = [base] + {"partial": [path / LAYERS_NAME], "adapter": [path / "adapter"]}.get(config.mode, [])
    return sources, {"mode": config.mode, "train_layers": config.train_layers, "max_length": config.max_length}


def read_config(path: Path) -> StanceConfig:
    if not path.is_dir():
        raise ModelLoadError(f"stance checkpoint {path} is not a directory")
    cfg = path / CONFIG_NAME
    if not cfg.is_file():
        raise ModelLoadError(f"stance checkpoint {path} has no {CONFIG_NAME}")
    try:
        data = json.loads(cfg.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{cfg} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{cfg} must hold a JSON object")
    try:
        return StanceConfig.from_dict(data)
    except TypeError as exc:
        raise ModelLoadError(f"{cfg} has unexpected fields: {exc}") from exc


def check_safe_checkpoint(path: Path) -> None:
    """Refuse checkpoints that carry pickled weights: loading a pickle can run arbitrary code."""
    for f in path.rglob("*"):
        if f.suffix.lower() in _PICKLE_SUFFIXES:
            raise ModelLoadError(f"refusing {f}: pickle-based weights are not loaded, use safetensors")
    if not (path / HEAD_NAME).is_file():
        raise ModelLoadError(f"stance checkpoint {path} has no {HEAD_NAME}")


def _frozen_encoder(config: StanceConfig, offered: Encoder | None, device: str | None) -> Encoder:
    """A fast checkpoint's encoder: ``offered`` if it has the recorded weights and length limit, else loaded
    from the reference and checked against the recorded weights (older checkpoints record none)."""
    want = config.encoder_checksum
    if offered is not None and want is not None and offered.max_length == config.max_length \
            and offered.checksum() == want:
        return offered
    encoder = Encoder(config.encoder, max_length=config.max_length, device=device)
    if want is not None and (got := encoder.checksum()) != want:
        raise ModelLoadError(f"the head was trained on encoder weights {want[:12]}, but encoder {config.encoder!r} "
                             f"now loads weights {got[:12]}: retrain the checkpoint on this encoder")
    return encoder


def check_frozen_weights(config: StanceConfig, encoder) -> None:
    """A fast checkpoint served from an export: the exported weights must be those the head was trained on."""
    want = config.encoder_checksum
    if config.mode == "fast" and want is not None and (got := encoder.checksum()) != want:
        raise ModelLoadError(f"the head was trained on encoder weights {want[:12]}, but encoder {config.encoder!r} "
                             f"now loads weights {got[:12]}: retrain the checkpoint on this encoder")


def _adapted_encoder(config: StanceConfig, adapter_dir: Path, device: str | None) -> Encoder:
    from peft import PeftModel

    if not (adapter_dir / "adapter_model.safetensors").is_file():
        raise ModelLoadError(f"adapter checkpoint {adapter_dir} has no adapter_model.safetensors")
    tokenizer, base = load_tokenizer_and_model(config.encoder)
    try:
        model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    except Exception as exc:
        raise ModelLoadError(f"cannot apply adapter {adapter_dir}: {exc}") from exc
    return Encoder(config.encoder, max_length=config.max_length, device=device, tokenizer=tokenizer, model=model)


def save_adapter_half(model: torch.nn.Module, directory: Path) -> None:
    """Save a PEFT adapter with its weights in float16: half the bytes in git, and loading casts them back."""
    import torch

    model.save_pretrained(str(directory))
    f = directory / "adapter_model.safetensors"
    state = load_file(str(f))
    save_file({k: v.to(torch.float16).contiguous() if v.is_floating_point() else v for k, v in state.items()},
              str(f), metadata={"format": "pt"})


def top_layer_prefixes(model: torch.nn.Module, k: int) -> list[str]:
    """State-dict prefixes of the top ``k`` transformer layers (BERT-style ``encoder.layer.N.``)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None:
        raise ModelLoadError("partial fine-tuning needs a BERT-style encoder (model.encoder.layer)")
    n = len(layers)
    if not 1 <= k <= n:
        raise ModelLoadError(f"train_layers must be between 1 and {n}, got {k}")
    return [f"encoder.layer.{i}." for i in range(n - k, n)]


def partial_state(model: torch.nn.Module, k: int) -> dict[str, torch.Tensor]:
    """The top ``k`` layers' weights as float16: a fraction of the encoder's size, and all that changed."""
    import torch

    prefixes = tuple(top_layer_prefixes(model, k))
    return {name: t.detach().cpu().to(torch.float16).contiguous()
            for name, t in model.state_dict().items() if name.startswith(prefixes)}


def round_to_half(model: torch.nn.Module, k: int) -> None:
    """Round the top layers through float16 so the model in memory equals the one saved."""
    import torch

    prefixes = tuple(top_layer_prefixes(model, k))
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.startswith(prefixes) and t.is_floating_point():
                t.copy_(t.to(torch.float16).to(t.dtype))


def _partial_encoder(config: StanceConfig, layers_file: Path, device: str | None) -> Encoder:
    import torch

    if not layers_file.is_file():
        raise ModelLoadError(f"partial checkpoint has no {layers_file.name}")
    try:
        state = load_file(str(layers_file))
    except Exception as exc:
        raise ModelLoadError(f"{layers_file} is not a readable safetensors file: {exc}") from exc
    tokenizer, base = load_tokenizer_and_model(config.encoder)
    own = base.state_dict()
    expected = set(partial_state(base, config.train_layers))
    if set(state) != expected:
        raise ModelLoadError(f"{layers_file} does not hold the top {config.train_layers} layers of {config.encoder!r}")
    with torch.no_grad():
        for name, t in state.items():
            if own[name].shape != t.shape:
                raise ModelLoadError(f"{layers_file}: {name} has shape {tuple(t.shape)}, expected {tuple(own[name].shape)}")
            own[name].copy_(t.to(own[name].dtype))
    return Encoder(config.encoder, max_length=config.max_length, device=device, tokenizer=tokenizer, model=base)
