"""Input of ``presslens batch``: find the files, cut them into shards, read one shard's rows.

A shard is a run of consecutive rows of one input file (``shard_rows`` of them, the last one shorter), found
once by a planning pass and then addressed by a byte offset (JSONL, CSV) or a row number (Parquet), so any
worker reads its shard without reading the rows before it. Shards are the unit of work and of commit: each
becomes one output file with a name derived from the input path and the shard's number.

Rows are read by hand rather than by a columnar reader, so that one undecodable line is that row's error and
not the whole file's; columns other than ``text``, ``html``, ``id`` and ``title`` are handed back as an Arrow
table to pass through untouched (Parquet keeps its types; JSON values keep theirs; CSV cells are strings).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from presslens.model.batch import READ_ERROR

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
INPUT_FIELDS = ("text", "html", "id", "title")


class InputError(Exception):
    """An input that cannot be read at all (missing, unknown format, corrupt, no text column)."""


@dataclass(frozen=True)
class Shard:
    path: str  # absolute
    fmt: str
    name: str  # output file stem, unique per (input file, shard number)
    start: int  # first row (0-based, within the file)
    rows: int
    offset: int = 0  # byte offset of the first row (JSONL, CSV)

    def to_dict(self) -> dict:
        return asdict(self)


def _format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def discover(inputs: list[str]) -> list[Path]:
    """Input files, in order: files as given, directories walked (sorted), globs expanded (sorted)."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if any(ch in item for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=True)) if Path(m).is_file()]
            matches = [m for m in matches if _format(m)]
            if not matches:
                raise InputError(f"{item}: matches no JSONL, Parquet or CSV files")
            found.extend(matches)
        elif path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and _format(p)
                             and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
            if not matches:
                raise InputError(f"{item}: no JSONL, Parquet or CSV files in this directory")
            found.extend(matches)
        elif path.is_file():
            if not _format(path):
                raise InputError(f"{item}: unknown format (expected .jsonl, .ndjson, .csv or .parquet)")
            found.append(path)
        else:
            raise InputError(f"{item}: no such file or directory")
    unique, seen = [], set()
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(key)
    return unique


def fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _shard_name(path: Path, index: int) -> str:
    digest = hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in path.stem)[:40]
    return f"{stem}-{digest}-{index:05d}"


def _shards(path: Path, fmt: str, starts: list[tuple[int, int]], total: int, shard_rows: int) -> list[Shard]:
    """Shards from (row, byte offset) of every ``shard_rows``-th row."""
    out = []
    for k, (row, offset) in enumerate(starts):
        out.append(Shard(str(path), fmt, _shard_name(path, k), row, min(shard_rows, total - row), offset))
    return out


def _jsonl_lines(fh, offset: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line) of each non-blank line from ``offset`` on."""
    fh.seek(offset)
    pos = offset
    for line in fh:
        if line.strip():
            yield pos, line
        pos += len(line)


def _plan_jsonl(path: Path, shard_rows: int) -> list[Shard]:
    starts, n = [], 0
    with path.open("rb") as fh:
        for pos, _ in _jsonl_lines(fh, 0):
            if n % shard_rows == 0:
                starts.append((n, pos))
            n += 1
    return _shards(path, "jsonl", starts, n, shard_rows)


class _LineFeed:
    """Decoded lines for ``csv.reader`` that remembers where the next line starts, so the byte offset of
    every record (which may span lines inside quotes) is known."""

    def __init__(self, fh, offset: int):
        fh.seek(offset)
        self.fh, self.pos = fh, offset

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.fh.readline()
        if not line:
            raise StopIteration
        self.pos += len(line)
        return line.decode("utf-8", "surrogateescape")


def _csv_reader(feed: _LineFeed):
    csv.field_size_limit(sys.maxsize)  # the size limit is the article limit, checked per row
    return csv.reader(feed)


def _csv_header(path: Path) -> tuple[list[str], int]:
    with path.open("rb") as fh:
        feed = _LineFeed(fh, 0)
        try:
            header = next(_csv_reader(feed))
        except StopIteration:
            return [], feed.pos
        except csv.Error as exc:
            raise InputError(f"{path}: not a readable CSV file ({exc})") from None
        header = [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]
        return header, feed.pos


def _plan_csv(path: Path, shard_rows: int) -> list[Shard]:
    header, body = _csv_header(path)
    if header and not {"text", "html"} & set(header):
        raise InputError(f"{path}: no 'text' or 'html' column (columns: {', '.join(header)})")
    starts, n = [], 0
    with path.open("rb") as fh:
        feed = _LineFeed(fh, body)
        reader = _csv_reader(feed)
        pos = body
        try:
            for record in reader:
                if record:
                    if n % shard_rows == 0:
                        starts.append((n, pos))
                    n += 1
                pos = feed.pos
        except csv.Error as exc:
            raise InputError(f"{path}: not a readable CSV file (record {n + 1}: {exc})") from None
    return _shards(path, "csv", starts, n, shard_rows)


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError on a file that is not Parquet
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None


def _plan_parquet(path: Path, shard_rows: int) -> list[Shard]:
    pf = _parquet_file(path)
    names = pf.schema_arrow.names
    if not {"text", "html"} & set(names):
        raise InputError(f"{path}: no 'text' or 'html' column (columns: {', '.join(names)})")
    total = pf.metadata.num_rows
    return _shards(path, "parquet", [(r, 0) for r in range(0, total, shard_rows)], total, shard_rows)


def plan(path: Path, shard_rows: int) -> list[Shard]:
    """The shards of one input file (none for a file without rows)."""
    planner = {"jsonl": _plan_jsonl, "csv": _plan_csv, "parquet": _plan_parquet}[_format(path)]
    try:
        return planner(path, shard_rows)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


# ------------------------------------------------------------------------------------------ reading


@dataclass
class ShardRows:
    rows: list[dict]  # text/html/id/title (or READ_ERROR) per row, for model.batch.analyze_rows
    default_ids: list[str]
    passthrough: object  # pyarrow.Table with the other columns, one row per row


def _default_ids(shard: Shard) -> list[str]:
    name = Path(shard.path).name
    return [f"{name}:{shard.start + i}" for i in range(shard.rows)]


def _split(record: dict) -> tuple[dict, dict]:
    own = {k: record[k] for k in INPUT_FIELDS if k in record}
    return own, {k: v for k, v in record.items() if k not in INPUT_FIELDS}


def _column(values: list):
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        # Mixed types in one column (a number here, a string there): keep each value as its JSON text.
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
                        type=pa.string())


def _table(records: list[dict], n: int):
    import pyarrow as pa

    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    if not names:
        return pa.table({"__rows": pa.nulls(n)}).drop(["__rows"])  # n rows, no columns
    return pa.table({k: _column([r.get(k) for r in records]) for k in names})


def _read_jsonl(shard: Shard) -> ShardRows:
    rows, extra = [], []
    with open(shard.path, "rb") as fh:
        for _, line in _jsonl_lines(fh, shard.offset):
            if len(rows) == shard.rows:
                break
            try:
                record = json.loads(line.decode("utf-8"))
                if not isinstance(record, dict):
                    raise ValueError(f"a JSON {type(record).__name__}, not an object")
            except UnicodeDecodeError as exc:
                rows.append({READ_ERROR: f"undecodable bytes: not UTF-8 (byte {exc.start} of the line)"})
                extra.append({})
                continue
            except ValueError as exc:
                rows.append({READ_ERROR: f"not a JSON object: {exc}"})
                extra.append({})
                continue
            own, rest = _split(record)
            rows.append(own)
            extra.append(rest)
    return ShardRows(rows, _default_ids(shard), _table(extra, len(rows)))


def _read_csv(shard: Shard) -> ShardRows:
    header, _ = _csv_header(Path(shard.path))
    rows, extra = [], []
    with open(shard.path, "rb") as fh:
        for record in _csv_reader(_LineFeed(fh, shard.offset)):
            if len(rows) == shard.rows:
                break
            if not record:
                continue
            if len(record) != len(header):
                rows.append({READ_ERROR: f"{len(record)} fields, the header has {len(header)}"})
                extra.append(dict.fromkeys(h for h in header if h not in INPUT_FIELDS))
                continue
            own, rest = _split(dict(zip(header, record, strict=True)))
            rows.append(own)
            extra.append(rest)
    return ShardRows(rows, _default_ids(shard), _table(extra, len(rows)))


def _read_parquet(shard: Shard) -> ShardRows:
    pf = _parquet_file(Path(shard.path))
    meta = pf.metadata
    groups, first, row = [], None, 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if row + n > shard.start and row < shard.start + shard.rows:
            groups.append(g)
            first = row if first is None else first
        row += n
    table = pf.read_row_groups(groups).slice(shard.start - (first or 0), shard.rows)
    own_cols = [c for c in INPUT_FIELDS if c in table.column_names]
    own = table.select(own_cols).to_pylist()
    for r in own:
        for k in ("text", "html"):
            if isinstance(r.get(k), bytes):  # a binary column: decode, keeping bad bytes visible as an error
                r[k] = r[k].decode("utf-8", "surrogateescape")
    return ShardRows(own, _default_ids(shard), table.drop(own_cols))


def read_shard(shard: Shard) -> ShardRows:
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}[shard.fmt]
    try:
        got = reader(shard)
    except OSError as exc:
        raise InputError(f"{shard.path}: cannot read: {exc.strerror or exc}") from None
    if len(got.rows) != shard.rows:
        raise InputError(f"{shard.path}: changed while the batch ran (shard {shard.name} has {len(got.rows)} "
                         f"rows, {shard.rows} planned)")
    return got


def plan_all(paths: list[Path], shard_rows: int) -> list[Shard]:
    shards: list[Shard] = []
    for p in paths:
        shards.extend(plan(p, shard_rows))
    return shards


