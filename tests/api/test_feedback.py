"""Feedback: stored durably (restart, kill -9), exported as a text,label dataset that training reads."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.cli import main
from presslens.api.feedback import FeedbackRow, SQLiteStore, export_csv
from presslens.api.settings import Settings
from presslens.model import settings

ROWS = [
    {"text": "Frankly, this policy is a disaster.", "label": "editorial", "article_id": "a1", "sentence_index": 3,
     "predicted": "neutral"},
    {"text": "The minister said talks would resume on Monday.", "label": "neutral", "article_id": "a1",
     "sentence_index": 4},
    {"text": "A whole article, corrected as a whole.\nWith a second line, and a comma.", "label": "neutral",
     "article_id": "a2", "comment": "straight report"},
    {"text": "Ünïcödé \"quotes\", commas, and a newline\ninside.", "label": "editorial", "sentence_index": 0},
]


def _post_all(app, rows):
    ids = []
    with TestClient(app) as c:
        for row in rows:
            resp = c.post("/v1/feedback", json=row)
            assert resp.status_code == 201, resp.text
            body = resp.json()
            assert body["label"] == row["label"]
            assert body["kind"] == ("sentence" if "sentence_index" in row else "article")
            ids.append(body["id"])
    return ids


def test_feedback_survives_restart_and_exports_for_training(tiny_analyzer, tmp_path, capsys):
    db = tmp_path / "fb.sqlite3"
    settings = Settings(feedback_db=str(db))
    ids = _post_all(create_app(settings, tiny_analyzer), ROWS[:2])
    ids += _post_all(create_app(settings, tiny_analyzer), ROWS[2:])  # a second server on the same database
    assert ids == [1, 2, 3, 4]

    out = tmp_path / "export" / "feedback.csv"
    assert main(["feedback", "export", "--db", str(db), "--out", str(out)]) == 0
    assert "wrote 4 rows" in capsys.readouterr().err
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["text"], r["label"]) for r in rows] == [(r["text"], r["label"]) for r in ROWS]

    from presslens.training.data import load_sentences

    data = load_sentences(str(out))
    assert data.texts == [r["text"].strip() for r in ROWS]
    assert data.labels == [r["label"] for r in ROWS]


def test_export_keeps_the_latest_correction_unless_all(tmp_path, capsys):
    store = SQLiteStore(tmp_path / "fb.sqlite3")
    store.add(FeedbackRow("It is a scandal.", "neutral", sentence_index=1))
    store.add(FeedbackRow("Officials met.", "neutral", sentence_index=2))
    store.add(FeedbackRow("It is a scandal.", "editorial", sentence_index=1))
    store.add(FeedbackRow("Whole article text.", "neutral"))
    assert export_csv(store, tmp_path / "latest.csv") == (3, 1)
    assert (tmp_path / "latest.csv").read_text().splitlines() == [
        "text,label", "Officials met.,neutral", "It is a scandal.,editorial", "Whole article text.,neutral"]
    assert export_csv(store, tmp_path / "all.csv", keep_all=True) == (4, 0)
    assert export_csv(store, tmp_path / "sent.csv", kind="sentence") == (2, 1)
    assert "Whole article" not in (tmp_path / "sent.csv").read_text()
    store.close()


def test_export_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRESSLENS_FEEDBACK_DB", str(tmp_path / "none.sqlite3"))
    settings.reload()
    assert main(["feedback", "export", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("presslens: error: no feedback database at") and err.count("\n") == 1
    (tmp_path / "notadb").write_bytes(b"this is not sqlite" * 100)
    assert main(["feedback", "export", "--db", str(tmp_path / "notadb"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "presslens: error:" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_feedback_bad_inputs(tiny_analyzer, tmp_path):
    app = create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3")), tiny_analyzer)
    cases = [
        ({"text": "x", "label": "biased"}, "label: Input should be 'neutral' or 'editorial'"),
        ({"text": "", "label": "neutral"}, "text: String should have at least 1 character"),
        ({"text": "   ", "label": "neutral"}, "'text' is blank"),
        ({"label": "neutral"}, "text: Field required"),
        ({"text": "x", "label": "neutral", "sentence_index": -1}, "sentence_index: Input should be greater than"),
        ({"text": "x", "label": "neutral", "extra": 1}, "extra: Extra inputs are not permitted"),
    ]
    with TestClient(app) as c:
        for body, fragment in cases:
            resp = c.post("/v1/feedback", json=body)
            assert resp.status_code == 422 and fragment in resp.json()["error"], (body, resp.text)
        assert app.state.feedback.count() == 0


_WRITER = textwrap.dedent("""
    import sys
    from presslens.api.feedback import FeedbackRow, SQLiteStore
    store = SQLiteStore(sys.argv[1])
    i = 0
    while True:
        row_id = store.add(FeedbackRow(f"sentence number {i}", "editorial" if i % 2 else "neutral", sentence_index=i))
        print(row_id, flush=True)  # acknowledged only after the commit returned
        i += 1
""")


def test_kill_9_mid_write_keeps_every_acknowledged_row(tmp_path):
    db = tmp_path / "fb.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    acked = []
    try:
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= 150:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert len(acked) == 150
    store = SQLiteStore(db)
    stored = {r.id: r for r in store.rows()}
    assert set(acked) <= set(stored)
    assert all(stored[i].text == f"sentence number {i - 1}" for i in acked)
    store.close()


# -- PostgreSQL (where a server is given: .ci/run starts one) -------------------------------------------
@pytest.fixture
def postgres_url():
    """A fresh, empty database on the server named by PRESSLENS_TEST_POSTGRES_URL; dropped afterwards."""
    base = os.environ.get("PRESSLENS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("no PostgreSQL server: set PRESSLENS_TEST_POSTGRES_URL (.ci/run starts one)")
    psycopg = pytest.importorskip("psycopg", reason="psycopg not installed (pip install -e '.[postgres]')")
    name = f"presslens_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_postgres_feedback_survives_restart_and_exports(tiny_analyzer, postgres_url, tmp_path, capsys):
    settings = Settings(feedback_db=postgres_url)
    ids = _post_all(create_app(settings, tiny_analyzer), ROWS[:2])
    ids += _post_all(create_app(settings, tiny_analyzer), ROWS[2:])  # a second server on the same database
    assert len(set(ids)) == 4 and ids == sorted(ids)
    out = tmp_path / "feedback.csv"
    assert main(["feedback", "export", "--db", postgres_url, "--out", str(out)]) == 0
    assert "wrote 4 rows" in capsys.readouterr().err
    with out.open(newline="", encoding="utf-8") as fh:
        assert [(r["text"], r["label"]) for r in csv.DictReader(fh)] == [(r["text"], r["label"]) for r in ROWS]
    with TestClient(create_app(settings, tiny_analyzer)) as c:
        bad = c.post("/v1/feedback", json={"text": "x", "label": "biased"})
        assert bad.status_code == 422 and "label" in bad.text


def test_postgres_unreachable_is_one_line(postgres_url, tmp_path, capsys):
    dead = postgres_url.rsplit("/", 1)[0] + "/no_such_database_here"
    assert main(["feedback", "export", "--db", dead, "--out", str(tmp_path / "f.csv")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "feedback" in err and "Traceback" not in err
    assert not (tmp_path / "f.csv").exists()
