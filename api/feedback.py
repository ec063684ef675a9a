"""Durable feedback: users' corrected labels, in SQLite by default or PostgreSQL by URL.

SQLite runs in WAL mode with ``synchronous=FULL`` and one transaction per row: once ``add`` returns (and
the API answers 201), the row is on disk and survives a crash or ``kill -9`` of the server. PostgreSQL is
used when the location is a ``postgresql://`` URL; its driver (psycopg) is imported only then.

``export_csv`` writes a ``text,label`` file that ``presslens train stance --data FILE`` reads.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from presslens.model.io import atomic_file

LABELS = ("neutral", "editorial")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id {pk},
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('article', 'sentence')),
    text TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('neutral', 'editorial')),
    article_id TEXT,
    sentence_index INTEGER,
    predicted TEXT,
    model TEXT,
    comment TEXT
)
"""
_COLUMNS = ("created_at", "kind", "text", "label", "article_id", "sentence_index", "predicted", "model", "comment")


class FeedbackError(Exception):
    """The feedback store cannot be opened or written; the message says why in one line."""


@dataclass
class FeedbackRow:
    text: str
    label: str
    article_id: str | None = None
    sentence_index: int | None = None
    predicted: str | None = None
    model: str | None = None
    comment: str | None = None
    id: int | None = None
    created_at: str | None = None

    @property
    def kind(self) -> str:
        return "sentence" if self.sentence_index is not None else "article"


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def open_store(location: str) -> FeedbackStore:
    return PostgresStore(location) if is_postgres_url(location) else SQLiteStore(location)


class FeedbackStore:
    def add(self, row: FeedbackRow) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def rows(self) -> Iterator[FeedbackRow]:  # pragma: no cover - interface
        raise NotImplementedError

    def count(self) -> int:
        return sum(1 for _ in self.rows())

    def close(self) -> None:
        pass

    def _values(self, row: FeedbackRow) -> tuple:
        if row.label not in LABELS:
            raise FeedbackError(f"label must be neutral or editorial, got {row.label!r}")
        created = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        return (created, row.kind, row.text, row.label, row.article_id, row.sentence_index, row.predicted,
                row.model, row.comment)


class SQLiteStore(FeedbackStore):
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the request threads, serialised by a lock: writes are tiny.
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                         timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT"))
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"cannot open feedback database {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def add(self, row: FeedbackRow) -> int:
        values = self._values(row)
        sql = f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                cur = self._conn.execute(sql, values)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise FeedbackError(f"cannot store feedback in {self.path}: {exc}") from exc
            return int(cur.lastrowid)

    def rows(self) -> Iterator[FeedbackRow]:
        with self._lock:
            data = self._conn.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM feedback ORDER BY id").fetchall()
        for r in data:
            yield FeedbackRow(id=r[0], created_at=r[1], text=r[3], label=r[4], article_id=r[5],
                              sentence_index=r[6], predicted=r[7], model=r[8], comment=r[9])

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresStore(FeedbackStore):  # pragma: no cover - needs a PostgreSQL server
    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as exc:
            raise FeedbackError("a postgresql:// feedback URL needs psycopg: pip install 'psycopg[binary]'") from exc
        self._psycopg = psycopg
        self.url = url
        try:
            with self._connect() as conn:
                conn.execute(_SCHEMA.format(pk="BIGSERIAL PRIMARY KEY"))
        except psycopg.Error as exc:
            raise FeedbackError(f"cannot open feedback database: {str(exc).strip().splitlines()[0]}") from exc

    def _connect(self):
        return self._psycopg.connect(self.url)

    def add(self, row: FeedbackRow) -> int:
        values = self._values(row)
        sql = (f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "
               "RETURNING id")
        try:
            with self._connect() as conn:  # commits on clean exit
                return int(conn.execute(sql, values).fetchone()[0])
        except self._psycopg.Error as exc:
            raise FeedbackError(f"cannot store feedback: {str(exc).strip().splitlines()[0]}") from exc

    def rows(self) -> Iterator[FeedbackRow]:
        with self._connect() as conn:
            data = conn.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM feedback ORDER BY id").fetchall()
        for r in data:
            yield FeedbackRow(id=r[0], created_at=r[1], text=r[3], label=r[4], article_id=r[5],
                              sentence_index=r[6], predicted=r[7], model=r[8], comment=r[9])


def export_csv(store: FeedbackStore, out: str | os.PathLike, *, kind: str | None = None,
               keep_all: bool = False) -> tuple[int, int]:
    """Write ``text,label`` rows; returns (rows written, earlier corrections superseded).

    By default a text corrected more than once appears once, with its latest label (training drops
    repeated texts keeping the first, which would otherwise keep the stale label). ``keep_all`` writes
    every stored row. The file is written to a temporary sibling and renamed into place.
    """
    latest: dict[str, str] = {}
    ordered: list[tuple[str, str]] = []
    for row in store.rows():
        if kind and row.kind != kind:
            continue
        text = row.text.strip()
        if keep_all:
            ordered.append((text, row.label))
        else:
            latest.pop(text, None)  # re-insert so the order follows the latest correction
            latest[text] = row.label
    rows = ordered if keep_all else list(latest.items())
    superseded = 0 if keep_all else sum(1 for r in store.rows() if not kind or r.kind == kind) - len(rows)
    with atomic_file(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return len(rows), superseded
