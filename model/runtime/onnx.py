"""Encoder runtimes: the torch reference (``model.encoder.Encoder``) and ONNX Runtime, behind one interface.

``OnnxEncoder`` answers what the serving path asks of an encoder (``encode``, ``count_tokens``, ``dim``,
``max_length``, ``ref``, ``device``) from an exported graph, with no torch model in memory. The graph is
built once from the torch encoder (``export_encoder``: mean pooling and L2 normalisation inside the graph,
then ONNX Runtime's transformer optimiser fuses attention, GELU and LayerNorm where it recognises them) and
checked against the torch forward on probe sentences before it is kept. Exports live in a cache directory
keyed by the sha256 of every file that defines the encoder's weights and tokenizer (``fingerprint``), so a
changed weight file gives a new export and an unchanged one is reused on the next start.

The runtime is a setting (``PRESSLENS_RUNTIME``): ``torch``, ``onnx``, or ``auto`` (ONNX Runtime where it is
installed and the export agrees with torch; torch otherwise, with a logged reason).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from .. import settings
from ..encoder import ModelLoadError
from ..io import atomic_dir, checksums
from ..shapes import ShapePlan, pad_run, warm_inputs

log = logging.getLogger("presslens.runtime")

RUNTIMES = settings.RUNTIMES  # the choices of PRESSLENS_RUNTIME, checked in model.settings
#: bump when the exported graph changes shape or meaning, so old exports are not reused
EXPORT_VERSION = 2  # 2: export.json records the torch weights' checksum
GRAPH_NAME = "encoder.onnx"
TOKENIZER_NAME = "tokenizer.json"
META_NAME = "export.json"
#: largest absolute difference from the torch embeddings an export may show on the probe sentences
EMBEDDING_TOLERANCE = 1e-4

# Probe sentences for the export check: short, long, punctuation, digits, and one past any max_length.
PROBES = (
    "The ministry said the talks would resume next week.",
    "Frankly, this whole exercise is a waste of everyone's time.",
    "Officials met in London on Friday to discuss the sanctions, which took effect on 3 March 2024.",
    "Why?",
    " ".join(["The committee reviewed the proposal in detail and heard from witnesses."] * 30),
)


def cache_root() -> Path:
    """Where exports are kept: ``PRESSLENS_CACHE_DIR``, else ``$XDG_CACHE_HOME/presslens`` (``~/.cache``)."""
    return settings.current().onnx_cache


PRECISIONS = settings.PRECISIONS  # the choices of PRESSLENS_PRECISION, checked in model.settings


class PrecisionSettingError(settings.SettingsError):
    """A precision given on a command line that is not one of ``PRECISIONS``; its message is one line."""


def precision_setting(value: str | None = None) -> str:
    """The precision asked for: ``value`` (a command-line option) if given, else ``PRESSLENS_PRECISION`` from the
    settings object (unset is ``auto``); a bad value raises a one-line ``SettingsError``."""
    if value is None:
        return settings.current().precision
    chosen = value.strip().lower() or "auto"
    if chosen not in PRECISIONS:
        raise PrecisionSettingError(f"bad precision {value!r}: choose one of {', '.join(PRECISIONS)}")
    return chosen


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def fingerprint(sources: Iterable[Path], **settings) -> str:
    """sha256 over the checksums of every weight/config/tokenizer file under ``sources`` plus ``settings``.

    ``sources`` are files or directories; settings are what else changes the graph (max_length, the part of
    a checkpoint that is fine-tuned). The onnxruntime version is included: an optimised graph may use
    contrib operators that another version lays out differently.
    """
    import onnxruntime

    files: list[dict[str, str]] = []  # by position, not by name: a copy elsewhere has the same fingerprint
    for src in sources:
        src = Path(src)
        if src.is_dir():
            files.append(checksums(src))
        elif src.is_file():
            files.append(checksums_of_file(src))
        else:
            raise ModelLoadError(f"cannot fingerprint {src}: no such file or directory")
    blob = json.dumps({"files": files, "settings": settings, "export": EXPORT_VERSION,
                       "onnxruntime": onnxruntime.__version__}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def checksums_of_file(path: Path) -> dict[str, str]:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {path.name: h.hexdigest()}


# ------------------------------------------------------------------------------------------ export


def _pooled_module(model):
    """The torch encoder as one module: ids and mask in, mean-pooled L2-normalised embeddings out."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=-1)

    return Pooled(model).eval()


def _export_graph(encoder, path: Path) -> None:
    """torch.onnx (TorchScript tracer): its graph has the attention pattern ONNX Runtime's optimiser fuses."""
    import torch

    model = encoder.model
    previous = getattr(model.config, "_attn_implementation", None)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")  # plain matmul/softmax attention: the fusable pattern
    batch = encoder.tokenizer(["A first sentence to trace.", "A second, longer sentence to trace the graph."],
                              padding=True, return_tensors="pt")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about shape checks it freezes; the export is checked against torch afterwards.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _pooled_module(model).float(), (batch["input_ids"].cpu(), batch["attention_mask"].cpu()),
                str(path), input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
    finally:
        if previous and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)


def _optimise(src: Path, dst: Path, config) -> dict:
    """ONNX Runtime's transformer optimiser (BERT fusions); the counts of fused operators it applied."""
    import logging as _logging

    from onnxruntime.transformers import optimizer

    _logging.getLogger("onnxruntime.transformers").setLevel(_logging.ERROR)
    opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=0, use_gpu=False)
    opt.save_model_to_file(str(dst))
    return {k: v for k, v in opt.get_fused_operator_statistics().items() if v}


def export_encoder(encoder, directory: str | os.PathLike, *, optimise: bool = True) -> Path:
    """Export a torch ``Encoder`` to ``directory`` (graph, tokenizer, export.json); written atomically.

    The optimised graph is kept only when its embeddings on the probe sentences agree with the torch
    forward to ``EMBEDDING_TOLERANCE``; otherwise the plain export is, and if that disagrees too the
    export fails with ``ModelLoadError``.
    """
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        raw = tmp / "raw.onnx"
        _export_graph(encoder, raw)
        reference = encoder.encode(list(PROBES))
        encoder.tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_NAME))
        candidates = []
        fused: dict = {}
        if optimise:
            try:
                fused = _optimise(raw, tmp / "optimised.onnx", encoder.model.config)
                candidates.append(("optimised", tmp / "optimised.onnx"))
            except Exception as exc:  # an architecture the optimiser does not know: keep the plain graph
                log.warning("ONNX Runtime optimiser failed (%s); using the plain export", exc)
        candidates.append(("plain", raw))
        meta = {"export_version": EXPORT_VERSION, "dim": int(encoder.dim), "max_length": int(encoder.max_length),
                "ref": encoder.ref, "architecture": type(encoder.model).__name__,
                "weights_checksum": encoder.checksum()}
        for name, graph in candidates:
            got = OnnxEncoder.from_files(graph, tmp / TOKENIZER_NAME, encoder.ref, encoder.max_length,
                                         encoder.dim).encode(list(PROBES))
            diff = float(np.abs(got - reference).max())
            if diff <= EMBEDDING_TOLERANCE:
                graph.replace(tmp / GRAPH_NAME)
                meta.update(graph=name, fused=fused if name == "optimised" else {}, probe_max_abs_diff=diff)
                break
            log.warning("ONNX %s graph differs from torch by %.2e on the probes; not used", name, diff)
        else:
            raise ModelLoadError(f"the ONNX export of {encoder.ref!r} does not reproduce the torch encoder")
        for leftover in ("raw.onnx", "optimised.onnx"):
            (tmp / leftover).unlink(missing_ok=True)
        (tmp / META_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory.resolve()


# ------------------------------------------------------------------------------------------ inference


def session_options(threads: int | None = None):
    """Sessions sized for this machine's cores (at most ``PRESSLENS_THREADS``, default 2).

    No memory patterns: they cache a buffer plan per input shape, and the server sees a new shape with almost
    every batch. The CPU arena stays on: it keeps the largest batch's buffers (bounded by ``tokens_per_run``)
    and reuses them, so RSS is flat; without it each batch mallocs and frees its activations and RSS jitters
    by about 30 MiB (a 5-minute soak: +5.0 % with a flat line and a 327 MiB peak, against +9.4 % and 350 MiB
    without). The intra-op pool does not spin between runs: the cores are shared with the event loop.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or default_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_mem_pattern = False
    so.enable_cpu_mem_arena = True
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


def default_threads() -> int:
    return settings.current().resolved_threads()


class OnnxEncoder:
    """Sentence embeddings from an exported graph: the ``Encoder`` inference interface, no torch model.

    ``encode`` tokenizes, groups sentences by length bucket and runs them in the fixed shapes of ``shapes``
    (``model.shapes``: at most ``tokens_per_run`` tokens and ``batch_size`` rows a run), so a sentence's
    embedding never depends on its neighbours and each run's activations stay bounded.
    """

    runtime = "onnx"
    device = "cpu"
    precision = "fp32"  # model.lowp sets bf16 / int8 on the encoders it loads

    def __init__(self, session, tokenizer, ref: str, max_length: int, dim: int, *, batch_size: int = 32,
                 tokens_per_run: int = 1024, meta: dict | None = None):
        self.session = session
        self.tokenizer = tokenizer
        self.ref = ref
        self.max_length = int(max_length)
        self.dim = int(dim)
        #: the fixed shapes every call runs in: length buckets, power-of-two row counts up to ``batch_size``
        #: rows and ``tokens_per_run`` tokens
        self.shapes = ShapePlan(max_length=self.max_length, tokens_per_run=tokens_per_run, max_rows=batch_size)
        self.meta = meta or {}
        self.directory: Path | None = None  # the cached export it was loaded from, if any
        self._lock = threading.Lock()  # a tokenizers.Tokenizer with truncation set is not shared across threads

    @classmethod
    def from_files(cls, graph: Path, tokenizer_file: Path, ref: str, max_length: int, dim: int,
                   threads: int | None = None, meta: dict | None = None) -> OnnxEncoder:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(max_length))
        session = ort.InferenceSession(str(graph), session_options(threads), providers=["CPUExecutionProvider"])
        return cls(session, tokenizer, ref, max_length, dim, meta=meta)

    @classmethod
    def load(cls, directory: str | os.PathLike, threads: int | None = None) -> OnnxEncoder:
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_NAME).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{directory} is not a presslens ONNX export: {exc}") from exc
        enc = cls.from_files(directory / GRAPH_NAME, directory / TOKENIZER_NAME, meta["ref"], meta["max_length"],
                             meta["dim"], threads=threads, meta=meta)
        enc.directory = directory
        return enc

    def checksum(self) -> str:
        """The exported torch encoder's ``weights_checksum``, recorded at export: the same identity, so a head
        or summarizer checked against the torch encoder's weights is checked the same way here."""
        try:
            return self.meta["weights_checksum"]
        except KeyError:
            raise ModelLoadError("this ONNX export records no weights checksum; export it again") from None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        with self._lock:
            return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.token_ids(texts)]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embeddings as a float32 array (n, dim), in the order of ``texts``."""
        return self.encode_ids(self.token_ids(texts))

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embeddings of tokenized texts (``token_ids``), run in the fixed shapes of ``self.shapes``
        (``model.shapes``): a sentence's embedding does not depend on the others."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for run in self.shapes.runs([len(x) for x in ids]):
            input_ids, mask = pad_run(run, ids)
            out[list(run.index)] = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0][
                : len(run.index)]
        return out

    def warm(self) -> int:
        """Run every shape of the plan once, so no request pays a shape's first run; the number of shapes."""
        n = 0
        for input_ids, mask in warm_inputs(self.shapes):
            self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            n += 1
        return n


# ------------------------------------------------------------------------------------------ choosing one

_LOADED: weakref.WeakValueDictionary[str, OnnxEncoder] = weakref.WeakValueDictionary()
_LOADED_LOCK = threading.Lock()


def onnx_encoder(key: str, export: Callable[[Path], object], cache_dir: Path | None = None,
                 threads: int | None = None, load: Callable[..., OnnxEncoder] | None = None) -> OnnxEncoder:
    """The ONNX encoder for fingerprint ``key``: already in memory, else from the cache, else exported now.

    An encoder already loaded in this process is shared (a reload of a checkpoint with the same encoder
    weights costs no memory); ``export(directory)`` is called only when no export exists yet. ``load``
    (default ``OnnxEncoder.load``) reads the directory: ``model.lowp.load`` for a bf16/int8 export.
    """
    directory = (cache_dir or cache_root()) / key
    with _LOADED_LOCK:  # shared per export directory: another cache is another export
        found = _LOADED.get(str(directory))
        if found is not None:
            return found
        if not (directory / META_NAME).is_file():
            log.info("exporting the encoder to ONNX into %s (once per set of weights)", directory)
            export(directory)
        enc = (load or OnnxEncoder.load)(directory, threads=threads)
        _LOADED[str(directory)] = enc
        return enc


def choose_runtime(runtime: str, key_sources: Callable[[], tuple[list[Path], dict]] | None,
                   build_torch: Callable[[], object], cache_dir: Path | None = None,
                   export: Callable[[Path], object] | None = None, threads: int | None = None):
    """An encoder for ``runtime``: ``torch`` builds the reference; ``onnx`` must give ONNX Runtime (or raise);
    ``auto`` gives ONNX Runtime where it can and falls back to torch with the reason logged.

    ``export(directory)`` writes a missing export (default: build the torch encoder here and export it;
    a server passes ``model.runtime.children.export_in_subprocess``, so the torch model it needs never enters the server's heap).
    ``threads``: ONNX Runtime's intra-op threads (default: the settings' ``resolved_threads()``).
    """
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        return build_torch()
    try:
        if not onnxruntime_available():
            raise ModelLoadError("the onnx runtime needs the package onnxruntime (pip install onnxruntime)")
        if key_sources is None:
            raise ModelLoadError("this encoder's weights are not local files, so an export cannot be keyed")
        sources, settings = key_sources()
        return onnx_encoder(fingerprint(sources, **settings),
                            export or (lambda directory: export_encoder(build_torch(), directory)), cache_dir,
                            threads=threads)
    except Exception as exc:
        if runtime == "onnx":
            raise exc if isinstance(exc, ModelLoadError) else ModelLoadError(f"ONNX runtime: {exc}") from exc
        log.warning("serving with the torch encoder: %s", exc)
        return build_torch()

