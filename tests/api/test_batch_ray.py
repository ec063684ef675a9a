"""``presslens batch --engine ray``: Ray Data in this process on 2 CPUs, against the local engine's rows."""

from __future__ import annotations

import os

import pytest
from presslens.api.batch import store
from presslens.api.batch.engines import JobConfig
from presslens.api.batch.job import run_job

from tests.api.batchdata import MAX_CHARS, N_ROWS, read_rows, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, seed_texts):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, seed_texts)
    return [str(root / "corpus.jsonl"), str(root / "more" / "*.*")]  # a file and a glob


@pytest.fixture(scope="module")
def cfg(tiny_stance_dir):
    return JobConfig(stance=str(tiny_stance_dir), max_chars=MAX_CHARS, batch_size=4)


@pytest.fixture(scope="module")
def local_rows(corpus, cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    run_job(corpus, str(out), cfg, engine="local", shard_rows=4)
    return read_rows(out)


def test_ray_finishes_a_crashed_run_with_the_local_engines_rows(ray_session, corpus, cfg, local_rows, tmp_path,
                                                                 monkeypatch):
    """A local run killed between writing and renaming its third shard, finished by Ray: every row equals the
    uninterrupted local run's, pass-through and error rows included (one Ray run: actors are the slow part)."""
    out = tmp_path / "out"
    real_replace = os.replace
    commits = []

    def crash_on_third(src, dst):
        if str(dst).endswith(".parquet"):
            if len(commits) == 2:
                raise KeyboardInterrupt
            commits.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", crash_on_third)
    monkeypatch.setattr(store.Path, "unlink", lambda self, missing_ok=False: None)  # a kill cleans nothing
    with pytest.raises(KeyboardInterrupt):
        run_job(corpus, str(out), cfg, engine="local", shard_rows=4)
    monkeypatch.undo()
    assert len(list(out.glob("*.parquet"))) == 2 and list(out.glob(".*.tmp"))

    outcome = run_job(corpus, str(out), cfg, engine="ray", shard_rows=4, workers=2)
    assert (outcome.engine, outcome.workers) == ("ray", 2)
    assert outcome.skipped_shards == 2 and outcome.analysed == N_ROWS - 8
    assert outcome.rows == N_ROWS and outcome.errors == 8
    assert not list(out.glob(".*.tmp"))
    rows = read_rows(out)
    by_ray = [r for r in rows if not (r["input_path"].endswith("corpus.jsonl") and r["input_row"] < 8)]
    assert {r["id"] for r in by_ray} >= {"j-huge", "j-html", "c-0", "c-empty", "p-2"}
    assert rows == local_rows  # every column, for the rows Ray wrote as for the ones the local run did
    assert ray_session.is_initialized()  # a Ray it did not start is left running
