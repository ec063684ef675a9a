"""The precision ladder: which encoder precision serves, chosen once at load from what the CPU runs natively.

Rungs, top first: **bf16** (OpenVINO, ``model.lowp``; native where the CPU reports ``amx_bf16`` or
``avx512_bf16``), **int8** (ONNX Runtime dynamic quantization; native with ``amx_int8``, ``avx512_vnni`` or
``avx_vnni``), **fp32** (ONNX Runtime, always there). The order is the measured speed on a CPU with both
bf16 and VNNI units (OpenVINO bf16 1.9x and ORT int8 1.8x ORT fp32; see ``model.lowp``) and bf16 keeps
more of the fp32 answers than int8.

``PRESSLENS_PRECISION`` (``model.runtime.precision_setting``):

- ``auto``: the rungs this CPU runs natively, top first; the first that passes the gate serves, else fp32.
  A CPU without bf16/VNNI units gets fp32, as before.
- ``bf16`` / ``int8``: that rung if it passes the gate (bf16 also needs the CPU's bf16 units: OpenVINO
  would otherwise run it in fp32 and call it bf16), else fp32. int8 runs everywhere, natively or not.
- ``fp32``: no gate, today's path.

The gate (``model.gate``) runs once per set of weights and precision, when the precision is first prepared
(``presslens prepare``, or a child process on a server's first start); its verdict is cached beside the
export, keyed by the export's key and the stance checkpoint's files, and read on every later start. A
refused rung is logged in one line and the next one down is tried. What was chosen and why is the
encoder's ``precision_choice``, which ``/info``, ``/v1/models`` and the bench report show.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from ..encoder import ModelLoadError
from ..io import atomic_write, checksums
from .cpu import NATIVE_FLAGS, REPORTED_FLAGS, CpuInfo, cpu_info  # noqa: F401 - re-exported
from .gate import GATE_VERSION, summary
from .lowp import BACKENDS, precision_dir
from .onnx import PRECISIONS

log = logging.getLogger("presslens.precision")

LADDER = ("bf16", "int8")  # above fp32, fastest first


def native_flag(precision: str, cpu: CpuInfo) -> str | None:
    """The CPU flag that makes ``precision`` native here, or None."""
    return next((f for f in NATIVE_FLAGS.get(precision, ()) if f in cpu.flags), None)


def plan(requested: str, cpu: CpuInfo) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The rungs to try, top first, each with why it is tried, and the rungs left out with why; fp32 is last."""
    tries: list[tuple[str, str]] = []
    skipped: dict[str, str] = {}
    for p in LADDER:
        flag = native_flag(p, cpu)
        if requested == "auto":
            if flag:
                tries.append((p, f"auto: this CPU runs {p} natively ({flag})"))
            else:
                skipped[p] = f"this CPU reports none of {', '.join(NATIVE_FLAGS[p])}"
        elif requested == p:
            if flag or p == "int8":
                tries.append((p, f"requested (PRESSLENS_PRECISION={p})"
                                 + ("" if flag else "; not native on this CPU, so emulated and slower")))
            else:
                skipped[p] = (f"requested, but this CPU reports none of {', '.join(NATIVE_FLAGS[p])} "
                              "(OpenVINO would run it in fp32)")
    fp32_why = ("requested (PRESSLENS_PRECISION=fp32)" if requested == "fp32"
                else "auto: no faster precision is native on this CPU" if requested == "auto" and not tries
                else "the floor: every faster rung was refused")
    tries.append(("fp32", fp32_why))
    return tries, skipped


# ------------------------------------------------------------------------------------------ verdicts


def head_key(stance_dir: Path) -> str:
    """What the gate's answers depend on besides the encoder: every file of the stance checkpoint."""
    blob = json.dumps({"files": checksums(Path(stance_dir)), "gate": GATE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def verdict_path(fp32_dir: Path, precision: str, stance_dir: Path, cpu: CpuInfo | None = None) -> Path:
    kind = hashlib.sha256((cpu or cpu_info()).kind.encode()).hexdigest()[:8]
    return precision_dir(fp32_dir, precision) / "gate" / f"{head_key(stance_dir)}-{kind}.json"


def read_verdict(path: Path, dev_sha256: str | None = None) -> dict | None:
    """A cached verdict, or None if there is none, it is unreadable or stale, or it was made without the dev
    set now given (a verdict made with a dev set serves later calls that give none)."""
    try:
        verdict = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if verdict.get("gate_version") != GATE_VERSION:
        return None
    if dev_sha256 and (verdict.get("dev") or {}).get("sha256") != dev_sha256:
        return None
    return verdict


def write_verdict(path: Path, verdict: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(verdict, indent=2, sort_keys=True) + "\n").encode())


# ------------------------------------------------------------------------------------------ choosing


def choose(requested: str, fp32_dir: Path, stance_dir: Path, *, load_fp32: Callable[[], object],
           load: Callable[[str, Path], object], gate: Callable[[str], None], cpu: CpuInfo | None = None):
    """The encoder that serves: the first rung of ``plan`` whose cached (or newly made) verdict passed.

    ``fp32_dir``: the fp32 export's cache directory (the key every rung is cached beside); ``gate(p)``
    prepares and gates rung ``p`` when no verdict is cached (``model.runtime.children.gate_in_subprocess``); ``load(p, dir)``
    loads a passed rung; ``load_fp32()`` the floor. The encoder comes back with ``precision_choice``: the
    requested setting, what serves, why, the gate's figures, the rungs refused or skipped and the CPU.
    """
    cpu = cpu or cpu_info()
    tries, skipped = plan(requested, cpu)
    refused: dict[str, str] = {}
    for p, why in tries:
        if p == "fp32":
            encoder = load_fp32()
            _attach(encoder, requested, "fp32", why, None, refused, skipped, cpu)
            return encoder
        path = verdict_path(fp32_dir, p, stance_dir, cpu)
        try:
            verdict = read_verdict(path)
            if verdict is None:
                gate(p)
                verdict = read_verdict(path)
                if verdict is None:
                    raise ModelLoadError(f"the gate left no verdict at {path}")
            if verdict["passed"]:
                encoder = load(p, precision_dir(fp32_dir, p))
                _attach(encoder, requested, p, f"{why}; it passed the gate", verdict, refused, skipped, cpu)
                return encoder
            reason = f"the gate refused it: {summary(verdict)}"
        except Exception as exc:  # a missing backend, a failed build: this rung is out, the next one serves
            reason = f"could not be prepared: {exc}"
        refused[p] = reason
        log.warning("precision %s refused (%s); trying the next one down", p, reason)
    raise AssertionError("unreachable: fp32 is always the last rung")  # pragma: no cover


def climb(precision: str, stance_dir: Path, key_sources: Callable[[], tuple[list[Path], dict]],
          fp32: Callable[[], object], gate: Callable[[str], None], threads: int | None = None):
    """``choose`` for a stance checkpoint: rungs cached beside the fp32 export keyed by ``key_sources``
    (``model.stance.encoder_sources``), gated in a child process, loaded once per process; ``fp32()`` is the
    fp32 encoder (``model.runtime.choose_runtime``: ONNX Runtime, or torch where it cannot be had); ``gate(p)``
    prepares and gates rung ``p`` (``model.runtime.children.gate_in_subprocess``); ``threads``: the runtime's
    threads (default: the settings')."""
    from . import lowp
    from .onnx import cache_root, fingerprint, onnx_encoder, onnxruntime_available

    if precision not in PRECISIONS:
        raise ModelLoadError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    try:
        if not onnxruntime_available():
            raise ModelLoadError("the precision ladder needs onnxruntime")
        sources, settings = key_sources()
        key = fingerprint(sources, **settings)
    except ModelLoadError as exc:  # no export possible: what serves without a ladder serves
        encoder = fp32()
        fp32_choice(encoder, precision, f"fp32: {exc}")
        return encoder

    def load(_p: str, directory: Path):
        return onnx_encoder(directory.name, lambda _d: None, directory.parent, threads=threads, load=lowp.load)

    return choose(precision, cache_root() / key, stance_dir, load_fp32=fp32, load=load,
                  gate=gate)


def _attach(encoder, requested: str, precision: str, why: str, verdict: dict | None, refused: dict,
            skipped: dict, cpu: CpuInfo) -> None:
    encoder.precision_choice = {
        "requested": requested, "precision": precision, "backend": BACKENDS.get(precision),
        "runtime": getattr(encoder, "runtime", None), "why": why,
        "gate": None if verdict is None else {**{k: verdict[k] for k in (
            "passed", "probe_sentences", "probe_labels_changed", "probe_max_prob_diff", "probe_articles",
            "article_labels_changed", "probe_speedup", "dev") if k in verdict}, "summary": summary(verdict)},
        "refused": dict(refused), "skipped": dict(skipped), "cpu": cpu.to_dict(),
    }


def fp32_choice(encoder, requested: str, why: str, cpu: CpuInfo | None = None) -> None:
    """Record on an encoder that no ladder was climbed (the torch runtime, or fp32 requested)."""
    _attach(encoder, requested, "fp32", why, None, {}, {}, cpu or cpu_info())
