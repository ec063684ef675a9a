"""Low-precision encoders behind the ``OnnxEncoder`` interface: bf16 on OpenVINO, int8 on ONNX Runtime.

Which backend serves each precision was measured (2 cores of an AMD EPYC with AVX512-BF16 and AVX512-VNNI,
no AMX; the shipped MiniLM on 256 seed sentences, interleaved runs, best of 3; ``/tmp``-script in the
precision branch's report): ONNX Runtime fp32 344 sentences/s, OpenVINO fp32 411, OpenVINO bf16
(``INFERENCE_PRECISION_HINT=bf16``) 659, ONNX Runtime dynamic int8 (VNNI) 612, torch bf16 weights on the
packed forward 485, torch bf16 autocast on the padded forward 303. So bf16 is OpenVINO's and int8 ONNX
Runtime's dynamic quantization; neither needs torch in the serving process.

Both are built from the fp32 export (``model.runtime``) of the same weights and keep its ``export.json``
(``weights_checksum`` included: the same weights, so heads and summarizers are matched the same way), with
``precision`` and ``backend`` added. They live beside it in the cache, ``<key>-bf16/`` and ``<key>-int8/``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..encoder import ModelLoadError
from ..io import atomic_dir
from ..shapes import ShapePlan
from .onnx import GRAPH_NAME, META_NAME, TOKENIZER_NAME, OnnxEncoder, default_threads

BACKENDS = {"fp32": "onnxruntime", "bf16": "openvino", "int8": "onnxruntime"}
OV_GRAPH = "encoder.xml"  # OpenVINO IR (its weights in encoder.bin beside it)
#: OpenVINO's CPU plugin keeps prepared kernels per input shape in an LRU cache (CPU_RUNTIME_CACHE_CAPACITY
#: entries, default 5,000: several entries per shape, one per distinct node configuration). The encoders run
#: only the fixed shapes of ``model.shapes.ShapePlan``, so the entries are bounded by that finite set; the
#: capacity is sized to hold them all (no recompiling in steady state) and bounds the cache by construction
#: should the plan ever grow.
CACHE_ENTRIES_PER_SHAPE = 16


def precision_dir(fp32_dir: Path, precision: str) -> Path:
    return fp32_dir.parent / f"{fp32_dir.name}-{precision}"


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _copy_meta(fp32_dir: Path, tmp: Path, precision: str, **extra) -> None:
    meta = json.loads((fp32_dir / META_NAME).read_text())
    meta.update(precision=precision, backend=BACKENDS[precision], fp32_export=fp32_dir.name, **extra)
    (tmp / META_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (tmp / TOKENIZER_NAME).write_bytes((fp32_dir / TOKENIZER_NAME).read_bytes())


def build_int8(fp32_dir: Path, out: Path) -> Path:
    """Dynamic int8 quantization (per-channel int8 weights, activations quantized per batch) of the fp32
    export's MatMuls and fused Attention: ONNX Runtime runs them with VNNI/AMX kernels where the CPU has them."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its pre-processing advice
    with atomic_dir(out) as tmp:
        # The optimised graph has contrib operators shape inference cannot type; their outputs are float.
        quantize_dynamic(str(fp32_dir / GRAPH_NAME), str(tmp / GRAPH_NAME), weight_type=QuantType.QInt8,
                         per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        _copy_meta(fp32_dir, tmp, "int8", quantization="dynamic QInt8, per-channel")
    return out


def build_bf16(torch_encoder, fp32_dir: Path, out: Path) -> Path:
    """OpenVINO IR of the encoder (the plain, unfused export: OpenVINO fuses for itself), fp32 weights;
    compiled with the bf16 inference precision when loaded."""
    import openvino as ov

    from .onnx import _export_graph

    with atomic_dir(out) as tmp:
        raw = tmp / "raw.onnx"
        _export_graph(torch_encoder, raw)
        ov.save_model(ov.Core().read_model(str(raw)), str(tmp / OV_GRAPH), compress_to_fp16=False)
        raw.unlink()
        _copy_meta(fp32_dir, tmp, "bf16", inference_precision="bf16")
    return out


class _OpenVinoSession:
    """What ``OnnxEncoder`` asks of an ONNX Runtime session (``run(None, feeds)``), from an OpenVINO model."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self._lock = threading.Lock()  # an infer request serves one caller at a time

    def run(self, _outputs, feeds: dict):
        with self._lock:
            result = self.request.infer(feeds)
            return [result[self.compiled.output(0)].copy()]


def compile_config(precision: str, threads: int, max_length: int) -> dict:
    """OpenVINO CPU settings: the precision, one stream of ``threads`` threads, and a per-shape kernel cache
    that holds every shape of the encoder's plan (``CACHE_ENTRIES_PER_SHAPE`` entries for each)."""
    shapes = len(ShapePlan(max_length=int(max_length)).shapes())
    return {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "CPU_RUNTIME_CACHE_CAPACITY": CACHE_ENTRIES_PER_SHAPE * shapes}


def _openvino_session(graph: Path, precision: str, threads: int, max_length: int):
    import openvino as ov

    core = ov.Core()
    config = compile_config(precision, threads, max_length)
    return _OpenVinoSession(core.compile_model(core.read_model(str(graph)), "CPU", config))


def load(directory: str | os.PathLike, threads: int | None = None) -> OnnxEncoder:
    """A built low-precision export (``build_int8`` / ``build_bf16``) as an encoder; fp32 exports load too."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / META_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{directory} is not a presslens export: {exc}") from exc
    precision = meta.get("precision", "fp32")
    if BACKENDS.get(precision) != "openvino":
        enc = OnnxEncoder.load(directory, threads=threads)
    else:
        if not openvino_available():
            raise ModelLoadError("bf16 needs the package openvino (pip install openvino)")
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_NAME))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        session = _openvino_session(directory / OV_GRAPH, precision, threads or default_threads(), meta["max_length"])
        enc = OnnxEncoder(session, tokenizer, meta["ref"], meta["max_length"], meta["dim"], meta=meta)
        enc.directory = directory
        enc.runtime = "openvino"
    enc.precision = precision
    return enc
