"""Output of ``presslens batch``: one Parquet file per input shard, committed by an atomic rename.

Layout of the output directory::

    DIR/_presslens_batch.json     the job: its inputs (path, size, mtime), its settings and model checksums,
                                  and the shard plan (written once, atomically, before any shard)
    DIR/<stem>-<hash>-00000.parquet   one file per shard, its name fixed by the input path and shard number
    DIR/.<name>.<random>.tmp       a shard being written (never matched by ``*.parquet``)

A shard is done exactly when its final file exists: the file is written and fsynced under a temporary name
and renamed into place, so a crash at any moment leaves either the complete file or none, and a rerun redoes
just the missing ones. Ray Data's own writers name files by write task and block, not by input shard, and
commit nothing per shard, which is why the shard worker writes its file itself.

Readers: ``pandas.read_parquet(DIR)``, ``duckdb "SELECT ... FROM 'DIR/*.parquet'"``,
``polars.read_parquet("DIR/*.parquet")``; files starting with ``_`` or ``.`` are skipped by all three.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from presslens.model.batch import RESULT_FIELDS
from presslens.model.io import atomic_file, atomic_write

from .sources import Shard

MANIFEST = "_presslens_batch.json"
LOCK = "_presslens_batch.lock"
PROVENANCE = ("input_path", "input_row")
MANIFEST_VERSION = 2  # 2: the model is recorded by model.profiles.model_fingerprint (every profile, the summarizers)


class OutputError(Exception):
    """The output directory cannot be used (another job's output, in use, not writable)."""


def sentence_type():
    import pyarrow as pa

    return pa.struct([
        ("index", pa.int32()), ("text", pa.string()), ("start", pa.int32()), ("end", pa.int32()),
        ("is_title", pa.bool_()), ("commentary", pa.bool_()), ("probability", pa.float64()),
        ("reported", pa.bool_()), ("speaker", pa.string()),
    ])


def result_schema():
    """The result columns, typed the same in every shard (so readers can concatenate shards)."""
    import pyarrow as pa

    types = {
        "id": pa.string(), "title": pa.string(), "label": pa.string(), "confidence": pa.float64(),
        "editorial_probability": pa.float64(), "commentary": pa.list_(pa.int32()),
        "summary": pa.list_(pa.string()), "summary_index": pa.list_(pa.int32()), "n_sentences": pa.int32(),
        "sentences": pa.list_(sentence_type()), "error": pa.string(),
        "input_path": pa.string(), "input_row": pa.int64(),
    }
    return pa.schema([(name, types[name]) for name in (*RESULT_FIELDS, *PROVENANCE)])


RESERVED = frozenset((*RESULT_FIELDS, *PROVENANCE))


def build_table(results: Sequence[dict], shard: Shard, passthrough):
    """The shard's output table: result columns, provenance, then the input's other columns untouched (one
    whose name is taken by a result column is kept as ``input_<name>``)."""
    import pyarrow as pa

    schema = result_schema()
    rows = [{**r, "input_path": shard.path, "input_row": shard.start + i} for i, r in enumerate(results)]
    table = pa.Table.from_pylist(rows, schema=schema)
    for name, column in zip(passthrough.column_names, passthrough.columns, strict=True):
        out = name
        while out in RESERVED or out in table.column_names:
            out = f"input_{out}"
        table = table.append_column(out, column)
    return table


def shard_path(out_dir: Path, shard: Shard) -> Path:
    return out_dir / f"{shard.name}.parquet"


def commit_shard(out_dir: Path, shard: Shard, table) -> Path:
    """Write ``table`` under a temporary name, fsync it, rename it to the shard's final name."""
    import pyarrow.parquet as pq

    final = shard_path(out_dir, shard)
    with atomic_file(final) as tmp:  # .<name>.parquet.<random>.tmp: never matched by *.parquet
        pq.write_table(table, tmp, compression="zstd")
    return final


def is_done(out_dir: Path, shard: Shard) -> bool:
    """The shard's file exists and holds the planned number of rows (anything else is redone)."""
    import pyarrow.parquet as pq

    path = shard_path(out_dir, shard)
    if not path.is_file():
        return False
    try:
        return pq.ParquetFile(path).metadata.num_rows == shard.rows
    except Exception:  # unreadable: not done; it is rewritten
        return False


def remove_temporaries(out_dir: Path) -> int:
    """Delete what killed writers left behind (only this job's own temporary names)."""
    removed = 0
    for p in out_dir.glob(".*.parquet.*.tmp"):
        p.unlink(missing_ok=True)
        removed += 1
    return removed


class JobLock:
    """An exclusive lock on the output directory for the driver's lifetime; the kernel drops it when the
    process dies, so a ``kill -9`` never leaves a stale lock behind."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / LOCK
        self.fh = None

    def __enter__(self) -> JobLock:
        self.fh = open(self.path, "a")  # held open for the lock's lifetime
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise OutputError(f"{self.path.parent}: another presslens batch is writing here") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def prepare_dir(out: str | os.PathLike) -> Path:
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output directory: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK):
        raise OutputError(f"{out}: the output directory is not writable")
    return out_dir.resolve()


def read_manifest(out_dir: Path) -> dict | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: unreadable job manifest ({exc}); use a new --out directory") from None


def write_manifest(out_dir: Path, job: dict, shards: Sequence[Shard]) -> None:
    data = {"version": MANIFEST_VERSION, **job, "shards": [s.to_dict() for s in shards]}
    atomic_write(out_dir / MANIFEST, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


def manifest_shards(manifest: dict) -> list[Shard]:
    return [Shard(**s) for s in manifest["shards"]]


def mismatch(manifest: dict, job: dict) -> str | None:
    """What differs between the job in DIR and this one (None: the same job, so resume it)."""
    if manifest.get("version") != MANIFEST_VERSION:
        return f"written by another version of presslens batch (manifest version {manifest.get('version')})"
    if manifest.get("inputs") != job["inputs"]:
        return "its inputs differ (other files, or files changed since)"
    for key in sorted(job["settings"]):
        recorded = manifest.get("settings", {}).get(key)
        if recorded != job["settings"][key]:
            return _model_difference(recorded, job["settings"][key]) if key == "model" else \
                f"its setting {key!r} differs"
    return None


def _model_difference(recorded, now: dict) -> str:
    """Which part of the model (``model.profiles.model_fingerprint``) differs from the recorded one."""
    recorded = recorded if isinstance(recorded, dict) else {}
    if recorded.get("stance") != now["stance"] or recorded.get("encoder") != now["encoder"]:
        return "its stance model's weights differ (another checkpoint, or the same one retrained)"
    return "its summarizer differs (another --summarizer, or other summarizer weights)"


def tally(out_dir: Path, shards: Sequence[Shard]) -> tuple[int, int]:
    """(rows, rows with an error) over the committed shards, from their files."""
    import pyarrow.parquet as pq

    rows = errors = 0
    for s in shards:
        path = shard_path(out_dir, s)
        if path.is_file():
            col = pq.read_table(path, columns=["error"])["error"]
            rows += len(col)
            errors += len(col) - col.null_count
    return rows, errors
