"""A small mixed corpus for the ``presslens batch`` tests: JSONL, CSV and Parquet, good and bad rows."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

MAX_CHARS = 20_000  # the tests' article limit; the oversized row is above it

# id -> the error a row must get (a substring of it); every other row is analysed.
BAD = {
    "j-empty": "empty text",
    "j-null": "null text",
    "j-huge": "30000 characters, at most 20000 per article (PRESSLENS_MAX_CHARS)",
    "j-nul": "NUL",
    "j-notext": "no 'text' or 'html'",
    "corpus.jsonl:7": "not UTF-8",
    "corpus.jsonl:8": "not a JSON object",
    "c-empty": "empty text",
}


def write_corpus(root: Path, seeds: dict[str, str]) -> dict[str, Path]:
    """Three input files under ``root``; returns them by format."""
    root.mkdir(parents=True, exist_ok=True)
    s = [seeds[k] for k in sorted(seeds)]
    jsonl = root / "corpus.jsonl"
    good = [{"id": f"j-{i}", "text": t, "source": "wire" if i < 4 else "blog", "date": f"2024-0{1 + i % 2}-15",
             "label": "gold-label", "meta": {"n": i}} for i, t in enumerate(s)]
    lines = [json.dumps(r).encode() for r in good]
    lines += [json.dumps({"id": "j-empty", "text": "  ", "source": "wire"}).encode(),
              json.dumps({"id": "j-null", "text": None, "source": "wire"}).encode(),
              b'{"id": "j-badbytes", "text": "caf\xe9 \xff news"}',
              b'{"id": "j-broken", "text": ',
              json.dumps({"id": "j-huge", "text": "word " * 6000}).encode(),
              json.dumps({"id": "j-nul", "text": "A sentence.\u0000 Another one."}).encode(),
              json.dumps({"id": "j-notext", "body": s[0]}).encode(),
              b"",  # a blank line is not a row
              json.dumps({"id": "j-html", "html": f"<html><head><title>Page</title></head><body><article>"
                                                  f"<p>{s[1]}</p></article></body></html>"}).encode()]
    jsonl.write_bytes(b"\n".join(lines) + b"\n")

    csv_path = root / "more" / "corpus.csv"
    csv_path.parent.mkdir(exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "source", "date"])
        w.writerow(["c-0", s[2], "wire", "2024-01-03"])  # seed texts span lines: quoted newlines
        w.writerow(["c-empty", "", "wire", "2024-02-01"])
        w.writerow(["c-1", s[4], "blog", "2024-02-09"])

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_path = root / "more" / "corpus.parquet"
    table = pa.table({
        "id": ["p-0", "p-1", "p-2"], "text": [s[3], s[0], s[4]], "source": ["wire", "wire", "blog"],
        "words": pa.array([11, 22, 33], pa.int16()),
        "date": pa.array([dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 3), dt.datetime(2024, 2, 4)],
                         pa.timestamp("ms")),
    })
    pq.write_table(table, pq_path, row_group_size=2)
    return {"jsonl": jsonl, "csv": csv_path, "parquet": pq_path}


N_ROWS = 13 + 3 + 3  # JSONL rows (the blank line is none), CSV rows, Parquet rows


def read_rows(out: Path) -> list[dict]:
    """Every output row, in input order (path, row); file by file, since a pass-through column may have
    another type in another input (CSV dates are strings, Parquet's timestamps)."""
    import pyarrow.parquet as pq

    rows = [r for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: (r["input_path"], r["input_row"]))
