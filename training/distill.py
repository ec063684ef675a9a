"""Distillation: the teacher's soft labels over an unlabelled pool, cached so reruns are cheap.

The teacher (a stance checkpoint, typically the ``accurate`` profile: MPNet with LoRA and its lexical
branch) labels the pool once, in chunks. Each chunk's P(commentary) is stored as ``.npy`` under
``<cache>/<teacher key>/<chunk sha256>.npy``, where the teacher key is the SHA-256 of the teacher's weight
files (``model.io.checksums``) and the config fields that shape its probabilities, and the chunk's key
the SHA-256 of its sentences:
a rerun with the same teacher and pool reads every chunk back, a pool that grows labels only its new
chunks, and a changed teacher never reuses old outputs. The student (``presslens train stance
--teacher DIR --pool FILE``) then fits ``sigmoid(logit(p_teacher) / T)`` on the pool beside the gold
labels.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
from presslens.model.io import atomic_file
from presslens.model.runtime.cpu import training_precision

from .data import DataError
from .pool import Pool, texts_sha256

CHUNK = 512


def default_cache_dir() -> Path:
    """``$PRESSLENS_HOME/cache/teacher`` or ``~/.cache/presslens/cache/teacher``."""
    from presslens.model.settings import current

    return current().teacher_cache


# The config fields that shape P(commentary); thresholds, the article rule and the training record do not,
# so recalibrating a teacher's article rule keeps its cached outputs valid.
_PROBABILITY_FIELDS = ("encoder", "mode", "train_layers", "dim", "hidden", "max_length")


def teacher_key(teacher_dir: str | Path) -> str:
    """SHA-256 over what determines the teacher's sentence probabilities: weight files and shape fields."""
    from presslens.model.io import checksums

    path = Path(teacher_dir)
    # what a sentence's probability depends on: not the config's training record, the out-of-fold table or a
    # summarizer trained beside the teacher
    sums = {k: v for k, v in checksums(path).items() if k not in ("config.json", "cv_oof.json")
            and not k.endswith("training_args.json") and not k.startswith("summarizer/")}
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"--teacher {teacher_dir}: unreadable config.json ({exc})") from exc
    if not sums:
        raise DataError(f"--teacher {teacher_dir}: no checkpoint files to identify it by")
    shape = {k: config.get(k) for k in _PROBABILITY_FIELDS}
    return hashlib.sha256(json.dumps({"files": sums, "config": shape}, sort_keys=True).encode()).hexdigest()


def teacher_outputs(teacher, key: str, texts: list[str], cache_dir: str | Path, log=print,
                    chunk: int = CHUNK) -> tuple[np.ndarray, int]:
    """P(commentary) of ``teacher`` for every text, chunk by chunk through the cache; (probs, chunks computed)."""
    root = Path(cache_dir) / key[:32]
    root.mkdir(parents=True, exist_ok=True)
    out = np.zeros(len(texts), dtype=np.float32)
    computed = 0
    t0 = time.time()
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        f = root / f"{texts_sha256(part)[:32]}.npy"
        if f.is_file():
            p = np.load(f, allow_pickle=False)
            if p.shape == (len(part),):
                out[start : start + len(part)] = p
                continue
        p = teacher.predict_proba(part)[:, 1].astype(np.float32)
        with atomic_file(f, durable=False) as tmp, open(tmp, "wb") as fh:  # a cache: rebuilt if lost
            np.save(fh, p, allow_pickle=False)
        out[start : start + len(part)] = p
        computed += 1
        done = start + len(part)
        log(f"teacher labelled {done}/{len(texts)} pool sentences ({done / max(time.time() - t0, 1e-9):.1f}/s this run)")
    return out, computed


def soft_targets(args, log=print) -> tuple[tuple[list[str], np.ndarray], dict]:
    """(pool texts, tempered teacher probabilities) and the record the model card keeps."""
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import StanceModel

    if not Path(args.pool).is_file():
        raise DataError(f"--pool {args.pool}: no such file")
    pool = Pool.load(args.pool)
    if args.pool_limit:
        pool = Pool(pool.texts[: args.pool_limit], pool.sources[: args.pool_limit])
    if not pool.texts:
        raise DataError(f"--pool {args.pool}: no sentences")
    teacher_dir = resolve_stance(args.teacher)
    key = teacher_key(teacher_dir)
    cache = Path(args.teacher_cache) if args.teacher_cache else default_cache_dir()
    teacher = StanceModel.from_pretrained(teacher_dir)
    # bf16 labels differ from fp32 ones in the last digits: each precision keeps its own cache entries
    precision = training_precision(args.precision)
    teacher.encoder.bf16 = precision == "bf16"
    cache_key = key if precision == "fp32" else hashlib.sha256(f"{key}|{precision}".encode()).hexdigest()
    probs, computed = teacher_outputs(teacher, cache_key, pool.texts, cache, log)
    del teacher
    log(f"teacher outputs for {len(pool.texts)} pool sentences ({computed} chunks computed, the rest cached); "
        f"mean P(commentary) {probs.mean():.3f}")
    p = np.clip(probs.astype(np.float64), 1e-6, 1 - 1e-6)
    tempered = 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / args.temperature))
    record = {"teacher": str(args.teacher), "teacher_sha256": key, "pool": str(args.pool),
              "pool_sha256": pool.sha256, "pool_sentences": len(pool.texts), "temperature": args.temperature,
              "teacher_precision": precision,
              "gold_weight": args.gold_weight, "teacher_mean_p": round(float(probs.mean()), 4)}
    return (pool.texts, tempered.astype(np.float32)), record
