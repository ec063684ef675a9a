"""``presslens batch`` without Ray: the readers, the local engine, the output, resumption, refusals."""

from __future__ import annotations

import os

import pytest
from presslens.api.batch import store
from presslens.api.batch.engines import JobConfig
from presslens.api.batch.job import BatchError, run_job
from presslens.api.batch.sources import InputError
from presslens.api.cli import main
from presslens.model import settings

from tests.api.batchdata import BAD, MAX_CHARS, N_ROWS, read_rows, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, seed_texts):
    return write_corpus(tmp_path_factory.mktemp("corpus"), seed_texts)


@pytest.fixture(scope="module")
def cfg(tiny_stance_dir):
    return JobConfig(stance=str(tiny_stance_dir), max_chars=MAX_CHARS, batch_size=4)


@pytest.fixture(scope="module")
def clean_run(corpus, cfg, tmp_path_factory):
    """One uninterrupted local run over every input: the reference rows."""
    out = tmp_path_factory.mktemp("clean")
    outcome = run_job([str(corpus["jsonl"]), str(corpus["jsonl"].parent / "more")], str(out), cfg,
                      engine="local", shard_rows=3)
    return out, outcome, read_rows(out)


def test_one_row_per_input_row_with_errors_and_pass_through(clean_run, corpus):
    out, outcome, rows = clean_run
    assert outcome.rows == len(rows) == N_ROWS and outcome.analysed == N_ROWS
    assert outcome.errors == len(BAD)
    by_id = {r["id"]: r for r in rows}
    for ident, message in BAD.items():
        assert message in by_id[ident]["error"], (ident, by_id[ident]["error"])
        assert by_id[ident]["label"] is None
    good = [r for r in rows if r["error"] is None]
    assert {r["id"] for r in good} == {"j-0", "j-1", "j-2", "j-3", "j-4", "j-html", "c-0", "c-1", "p-0", "p-1", "p-2"}
    for r in good:
        assert r["label"] in ("neutral", "editorial") and 0.5 <= r["confidence"] <= 1
        assert len(r["summary"]) == 3 and r["n_sentences"] == len(r["sentences"])
        assert all(r["sentences"][i]["commentary"] for i in r["commentary"])
    # Pass-through: JSON values keep their JSON types, a clashing name is kept as input_<name>.
    assert by_id["j-1"]["source"] == "wire" and by_id["j-1"]["meta"] == {"n": 1}
    assert by_id["j-1"]["input_label"] == "gold-label"
    assert by_id["c-1"]["source"] == "blog" and by_id["c-1"]["date"] == "2024-02-09"


def test_parquet_columns_pass_through_with_their_types(clean_run, corpus):
    import pyarrow.parquet as pq

    out, _, _ = clean_run
    files = [f for f in out.glob("*.parquet") if f.name.startswith("corpus-") and
             pq.read_table(f).column("input_path")[0].as_py().endswith(".parquet")]
    table = pq.read_table(files[0])
    assert str(table.schema.field("words").type) == "int16"
    assert str(table.schema.field("date").type) == "timestamp[ms]"


def test_queryable_by_pandas_and_duckdb_style_unnest(clean_run):
    import pandas as pd

    out, _, _ = clean_run
    df = pd.read_parquet(out)  # the manifest and lock (leading underscore) are not read as data
    assert len(df) == N_ROWS
    sentences = df.dropna(subset=["label"]).explode("sentences")
    flat = pd.json_normalize(sentences["sentences"].tolist())
    assert {"index", "text", "probability", "commentary"} <= set(flat.columns)
    assert len(flat) == int(df["n_sentences"].sum())


def test_rerun_on_a_finished_directory_does_nothing_and_keeps_the_rows(clean_run, cfg, corpus):
    out, _, rows = clean_run
    mtimes = {f: f.stat().st_mtime_ns for f in out.glob("*.parquet")}
    again = run_job([str(corpus["jsonl"]), str(corpus["jsonl"].parent / "more")], str(out), cfg,
                    engine="local", shard_rows=3)
    assert again.analysed == 0 and again.rows == N_ROWS
    assert {f: f.stat().st_mtime_ns for f in out.glob("*.parquet")} == mtimes
    assert read_rows(out) == rows


def test_resume_after_a_crash_between_write_and_rename(clean_run, cfg, corpus, tmp_path, monkeypatch):
    """A crash with shards committed, one half-written under its temporary name: the rerun gives exactly the
    clean run's rows, redoing only what was not committed."""
    _, _, ref = clean_run
    out = tmp_path / "out"
    real_replace = os.replace
    commits = []

    def crash_on_third(src, dst):
        if str(dst).endswith(".parquet"):
            if len(commits) == 2:
                raise KeyboardInterrupt  # as a kill would: the temporary file is written, not renamed
            commits.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", crash_on_third)
    monkeypatch.setattr(store.Path, "unlink", lambda self, missing_ok=False: None)  # a kill cleans nothing
    inputs = [str(corpus["jsonl"]), str(corpus["jsonl"].parent / "more")]
    with pytest.raises(KeyboardInterrupt):
        run_job(inputs, str(out), cfg, engine="local", shard_rows=3)
    monkeypatch.undo()
    assert len(list(out.glob("*.parquet"))) == 2 and list(out.glob(".*.tmp"))
    seen = {}
    outcome = run_job(inputs, str(out), cfg, engine="local", shard_rows=3,
                      on_start=lambda todo, done: seen.update(todo=todo, done=done))
    assert seen == {"done": 6, "todo": N_ROWS - 6}
    assert outcome.analysed == N_ROWS - 6 and outcome.skipped_shards == 2
    assert not list(out.glob(".*.tmp"))
    assert read_rows(out) == ref


def test_a_different_job_in_the_same_directory_is_refused(clean_run, cfg, corpus):
    out, _, _ = clean_run
    with pytest.raises(store.OutputError, match="another batch job's output .*setting 'summary_sentences'"):
        run_job([str(corpus["jsonl"]), str(corpus["jsonl"].parent / "more")], str(out),
                JobConfig(**{**cfg.__dict__, "summary_sentences": 2}), engine="local", shard_rows=3)
    with pytest.raises(store.OutputError, match="inputs differ"):
        run_job([str(corpus["jsonl"])], str(out), cfg, engine="local", shard_rows=3)


def test_unreadable_input_is_one_line_and_exit_2(tmp_path, tiny_stance_dir, capsys):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not parquet at all")
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("id,body\n1,hello\n")
    cases = {str(tmp_path / "missing.jsonl"): "no such file", str(bad): "not a readable Parquet file",
             str(nocol): "no 'text' or 'html' column (columns: id, body)",
             str(tmp_path / "*.ndjson"): "matches no JSONL, Parquet or CSV files"}
    for path, message in cases.items():
        code = main(["batch", path, "--out", str(tmp_path / "o"), "--engine", "local",
                     "--model", str(tiny_stance_dir)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_cli_last_line_counts_rows_errors_and_rate(tmp_path, corpus, tiny_stance_dir, capsys, monkeypatch):
    monkeypatch.setenv("PRESSLENS_MAX_CHARS", str(MAX_CHARS))
    settings.reload()
    code = main(["batch", str(corpus["jsonl"]), "--out", str(tmp_path / "o"), "--engine", "local",
                 "--model", str(tiny_stance_dir), "--shard-rows", "5", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("13 rows done, 7 with errors; this run: 13 rows in ") and "articles/s (local" in last


def test_input_errors_are_named(tmp_path):
    from presslens.api.batch.sources import discover

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="unknown format"):
        discover([str(tmp_path / "notes.txt")])
    with pytest.raises(InputError, match="no JSONL, Parquet or CSV files in this directory"):
        discover([str(tmp_path)])


def test_engine_failure_keeps_committed_shards(clean_run, cfg, corpus, tmp_path, monkeypatch):
    import presslens.api.batch.engines as engines

    real = engines.read_shard
    calls = []

    def fail_second(shard):
        calls.append(shard.name)
        if len(calls) == 2:
            raise OSError("disk on fire")
        return real(shard)

    monkeypatch.setattr(engines, "read_shard", fail_second)
    with pytest.raises(BatchError, match="OSError: disk on fire .*rerun the same command to resume"):
        run_job([str(corpus["jsonl"])], str(tmp_path / "o"), cfg, engine="local", shard_rows=5)
    assert len(list((tmp_path / "o").glob("*.parquet"))) == 1


def _retrain(checkpoint):
    """The same checkpoint directory with other head weights, as a retraining leaves it."""
    from safetensors.numpy import load_file, save_file

    head = checkpoint / "head.safetensors"
    save_file({k: v + 0.01 for k, v in load_file(str(head)).items()}, str(head))


def test_a_rerun_whose_model_differs_in_its_weights_is_refused(tmp_path, tiny_stance_dir, seed_texts, monkeypatch,
                                                               capsys):
    """Not only the names: the same profile after retraining, or another summarizer, is another job."""
    import json
    import shutil

    from presslens.model import profiles
    from presslens.model.io import checksums
    from presslens.model.summarizer import ExtractiveSummarizer

    weights = tmp_path / "weights"
    shutil.copytree(tiny_stance_dir, weights / "stance-accurate")
    monkeypatch.setattr(profiles, "WEIGHTS_DIR", weights)
    monkeypatch.setattr(profiles, "PROFILE_ENCODERS", {})  # the tiny encoder is not an installed one
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"id": k, "text": seed_texts[k]}) + "\n" for k in ("000", "004")))
    out = tmp_path / "out"
    argv = ["batch", str(inputs), "--out", str(out), "--engine", "local", "--model", "accurate", "--no-progress"]
    assert main(argv) == 0
    recorded = json.loads((out / store.MANIFEST).read_text())["settings"]["model"]
    assert recorded["stance"] == checksums(weights / "stance-accurate") and recorded["stance"]
    assert recorded["summarizer"] == {}  # the shipped scorer is not on this checkpoint's dir: the prior serves
    assert main(argv) == 0  # the same weights: a rerun resumes (nothing to do)
    capsys.readouterr()

    summ = tmp_path / "summ"
    ExtractiveSummarizer().save_pretrained(summ)
    assert main([*argv, "--summarizer", str(summ)]) == 2
    assert capsys.readouterr().err == (f"presslens: error: {out} holds another batch job's output (its summarizer "
                                       "differs (another --summarizer, or other summarizer weights)); use a new "
                                       "--out\n")
    _retrain(weights / "stance-accurate")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its stance model's weights differ" in err
