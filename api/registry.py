"""Loading, validating and describing checkpoints for the service (ids, versions, checksums, card metrics).

A reload is allowed only from a directory inside the configured models folder, only when it holds a
presslens stance checkpoint with safetensors weights (``StanceModel.from_pretrained`` refuses pickles,
corrupt or truncated files and configs that do not match), and only after a smoke prediction gives
well-formed output. Anything else raises ``ModelLoadError`` and the serving model stays as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from functools import lru_cache
from pathlib import Path

from presslens.model.encoder import ModelLoadError
from presslens.model.head import head_state
from presslens.model.io import checksums
from presslens.model.pipeline import Analyzer
from presslens.model.profiles import (
    CHECKPOINT_SUMMARIZER,
    PROFILES,
    default_summarizer_path,
    profile_name,
    resolve_stance,
)
from presslens.model.stance import LABELS
from presslens.model.text import Article

from .batching import LoadedModel

log = logging.getLogger("presslens.registry")

_SMOKE_TEXT = (
    "Officials met in London on Friday to discuss the sanctions. The ministry said the talks would resume "
    "next week. Frankly, this whole exercise is a waste of everyone's time."
)


@lru_cache(maxsize=1)
def smoke_article() -> Article:
    """The fixed article every model must analyse well-formed before it serves (built on first use, not at
    import: cleaning and sentence splitting load pysbd)."""
    return Article(_SMOKE_TEXT, id="smoke")


def version_of(sums: dict[str, str], encoder: str = "") -> str:
    """A short id that changes whenever any weight or config file (or the base encoder) changes."""
    blob = json.dumps({"files": sums, "encoder": encoder}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def describe_stance(path: Path, active: bool) -> dict:
    config = json.loads((path / "config.json").read_text())
    sums = checksums(path)
    training = config.get("training") or {}
    return {
        "id": f"presslens-stance-{profile}" if (profile := profile_name(path)) else path.name,
        "kind": "stance", "version": version_of(sums, str(config.get("encoder", ""))), "active": active,
        "path": str(path), "checksums": sums, "metrics": training.get("metrics", {}),
        "encoder": config.get("encoder"), "mode": config.get("mode"), "threshold": config.get("threshold"),
    }


def describe_summarizer(path: Path | None, reason: str = "") -> dict:
    """``reason``: why this summarizer serves beside the stance model (``model.pipeline.choose_summarizer``)."""
    if path is None or not (path / "config.json").is_file():
        return {"id": "presslens-summarizer-builtin", "kind": "summarizer", "version": "builtin", "active": True,
                "path": None, "checksums": {}, "metrics": {}, "reason": reason or "built-in prior"}
    sums = checksums(path)
    config = json.loads((path / "config.json").read_text())
    ident = "presslens-summarizer-default" if path.resolve() == default_summarizer_path().resolve() \
        else path.name if path.name != CHECKPOINT_SUMMARIZER else f"{path.parent.name}/{path.name}"
    return {"id": ident, "kind": "summarizer", "version": version_of(sums), "active": True, "path": str(path),
            "checksums": sums, "metrics": (config.get("training") or {}).get("metrics", {}),
            "encoder_checksum": config.get("encoder_checksum"), "reason": reason}


def smoke_test(analyzer: Analyzer) -> None:
    """One prediction on a fixed article; the output must be well-formed or the model is refused."""
    try:
        (result,) = analyzer.analyze([smoke_article()])
        d = result.to_dict()
    except Exception as exc:
        raise ModelLoadError(f"smoke prediction failed: {type(exc).__name__}: {exc}") from exc
    if d["label"] not in LABELS:
        raise ModelLoadError(f"smoke prediction gave label {d['label']!r}, not one of {LABELS}")
    probs = [s["probability"] for s in d["sentences"]]
    if len(probs) != len(smoke_article().sentences) or not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in probs):
        raise ModelLoadError(f"smoke prediction gave malformed sentence probabilities: {probs}")


def warm_in_background(loaded: LoadedModel) -> threading.Thread | None:
    """Run every shape of the serving encoder's plan once (``model.shapes``), in a daemon thread, so no request
    pays a shape's first run (OpenVINO compiles kernels per shape); the model serves meanwhile (/readyz does not
    wait). Progress and the outcome are in ``loaded.info["warm"]`` (/info) and one log line."""
    warm = getattr(loaded.analyzer.encoder, "warm", None)
    if warm is None:
        loaded.info["warm"] = {"state": "none", "why": "this encoder has no fixed shapes to warm"}
        return None
    loaded.info["warm"] = {"state": "running"}

    def run(info: dict = loaded.info, warm=warm) -> None:
        t0 = time.perf_counter()
        try:
            shapes = warm()
        except Exception as exc:  # a warm-up failure costs latency, not answers: said, not raised
            info["warm"] = {"state": "failed", "why": f"{type(exc).__name__}: {exc}"}
            log.warning("encoder warm-up failed: %s", info["warm"]["why"])
            return
        info["warm"] = {"state": "done", "shapes": shapes, "seconds": round(time.perf_counter() - t0, 3)}
        log.info("encoder warm: %d shapes in %.2f s", shapes, info["warm"]["seconds"])

    thread = threading.Thread(target=run, name="presslens-warm", daemon=True)
    thread.start()
    return thread


def load_initial(stance_dir: str | None, summarizer_dir: str | None, runtime: str = "torch",
                 precision: str = "fp32") -> LoadedModel:
    stance_path = resolve_stance(stance_dir)
    analyzer = Analyzer.assemble(stance_path, summarizer_dir, runtime=runtime, precision=precision)
    smoke_test(analyzer)
    return _loaded(analyzer, stance_path, summarizer_dir, runtime, precision)


def precision_of(encoder, requested: str = "fp32") -> dict:
    """What precision an encoder serves and why (``model.precision``); a bare encoder serves its own."""
    choice = getattr(encoder, "precision_choice", None)
    if choice:
        return choice
    why = ("the torch reference runs fp32" if encoder.runtime == "torch"
           else "requested (PRESSLENS_PRECISION=fp32)" if requested == "fp32" else "no precision ladder was climbed")
    return {"requested": requested, "precision": getattr(encoder, "precision", "fp32"), "why": why}


def _loaded(analyzer: Analyzer, stance_path: Path, summarizer_setting: str | None,
            requested: str = "torch", precision: str = "fp32") -> LoadedModel:
    """``summarizer_setting``: the summarizer the operator named (PRESSLENS_SUMMARIZER), kept for reloads;
    ``requested`` / ``precision``: the runtime and precision settings (PRESSLENS_RUNTIME, _PRECISION), too."""
    stance = describe_stance(stance_path, active=True)
    stance["precision"] = precision_of(analyzer.encoder, precision)
    summ = describe_summarizer(analyzer.summarizer_path, analyzer.summarizer_reason)
    return LoadedModel(analyzer, version=f"{stance['id']}@{stance['version']}",
                       info={"stance": stance, "summarizer": summ, "summarizer_setting": summarizer_setting,
                             "runtime": analyzer.encoder.runtime, "runtime_requested": requested,
                             "precision": stance["precision"], "precision_requested": precision})


def resolve_checkpoint(models_dir: str | None, name: str) -> Path:
    """The checkpoint directory ``name`` inside ``models_dir``; anything resolving outside it is refused.

    A profile name (``default``, ``accurate``) names a shipped checkpoint and is always allowed.
    """
    if name in PROFILES:
        return resolve_stance(name)
    if not models_dir:
        raise PermissionError("no models folder is configured (PRESSLENS_MODELS_DIR)")
    root = Path(models_dir).expanduser().resolve()
    candidate = (root / name).resolve()  # follows symlinks: a link pointing out of the folder is refused
    if candidate == root or not candidate.is_relative_to(root):
        raise PermissionError(f"{name!r} is not inside the models folder")
    if not candidate.is_dir():
        raise FileNotFoundError(f"no checkpoint directory {name!r} in the models folder")
    return candidate


def load_replacement(path: Path, current: LoadedModel) -> LoadedModel:
    """Load a stance checkpoint to replace ``current``, exactly as ``presslens analyze --model path`` would.

    The serving encoder is reused only when it has the weights the checkpoint's head was trained on (its
    checksum, not its name), and the summarizer is chosen afresh for the new encoder, so the answers after
    a reload are those of the CLI on the same checkpoint. The caller runs ``smoke_test`` on the result
    before swapping it in (on the batch worker, since a shared encoder's tokenizer must not be used from
    two threads at once).
    """
    setting = current.info.get("summarizer_setting")
    runtime = current.info.get("runtime_requested", "torch")
    precision = current.info.get("precision_requested", "fp32")
    analyzer = Analyzer.assemble(path, setting, encoder=current.analyzer.encoder, runtime=runtime,
                                 precision=precision)
    return _loaded(analyzer, path, setting, runtime, precision)


def list_checkpoints(models_dir: str | None) -> list[Path]:
    if not models_dir:
        return []
    root = Path(models_dir).expanduser()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "config.json").is_file())


def describe_given(analyzer: Analyzer, settings) -> LoadedModel:
    """A ``LoadedModel`` for an analyzer built by the caller (tests, embedding the app in a program).

    Its version hashes the head weights and config in memory, so it changes whenever the model does.
    """
    if settings.model and (Path(settings.model) / "config.json").is_file():
        return _loaded(analyzer, Path(settings.model).resolve(), settings.summarizer)
    h = hashlib.sha256(json.dumps(analyzer.stance.config.to_dict(), sort_keys=True).encode())
    for name, array in sorted(head_state(analyzer.stance.head).items()):
        h.update(name.encode())
        h.update(array.tobytes())
    stance = {"id": "in-memory", "kind": "stance", "version": h.hexdigest()[:12], "active": True, "path": None,
              "checksums": {}, "metrics": analyzer.stance.config.training.get("metrics", {}),
              "encoder": analyzer.stance.config.encoder, "mode": analyzer.stance.config.mode,
              "threshold": analyzer.stance.config.threshold, "precision": precision_of(analyzer.encoder)}
    return LoadedModel(analyzer, version=f"in-memory@{stance['version']}",
                       info={"stance": stance, "summarizer_setting": settings.summarizer,
                             "precision": stance["precision"],
                             "summarizer": describe_summarizer(analyzer.summarizer_path, analyzer.summarizer_reason)})
