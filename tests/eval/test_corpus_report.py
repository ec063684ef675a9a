"""``presslens corpus-report``: shares per group from a batch output, with bootstrap intervals."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
from presslens.api.cli import main


def _shard(path, labels, commentary, n_sentences, sources, dates, errors=None):
    n = len(labels)
    pq.write_table(pa.table({
        "id": [f"{path.stem}-{i}" for i in range(n)], "label": labels,
        "commentary": pa.array(commentary, pa.list_(pa.int32())), "n_sentences": pa.array(n_sentences, pa.int32()),
        "error": errors or [None] * n, "source": sources, "date": dates,
    }), path)


def _batch_output(tmp_path):
    out = tmp_path / "batch"
    out.mkdir()
    # Shard 1: dates as strings; shard 2: as timestamps (pass-through columns keep their input's types).
    _shard(out / "a-00000.parquet", ["editorial", "neutral", "neutral", None],
           [[0, 1], [], [3], None], [10, 10, 20, None], ["blog", "wire", "wire", "wire"],
           ["2024-01-05", "2024-01-09", "2024-02-01T10:00:00", "2024-02-02"], [None, None, None, "empty text"])
    _shard(out / "b-00000.parquet", ["editorial", "editorial", "neutral"], [[1, 2, 3], [0], []], [10, 5, 15],
           ["blog", "blog", "wire"], pa.array([dt.datetime(2024, 1, 20), dt.datetime(2024, 2, 3),
                                               dt.datetime(2024, 2, 7)], pa.timestamp("ms")))
    return out


def test_shares_per_source_with_intervals(tmp_path, capsys):
    out = _batch_output(tmp_path)
    code = main(["corpus-report", str(out), "--by", "source", "--out", str(tmp_path / "r"), "--resamples", "200"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    groups = {g["group"]["source"]: g for g in metrics["groups"]}
    assert groups["all"]["articles"] == 6 and groups["all"]["errors"] == 1
    blog, wire = groups["blog"], groups["wire"]
    assert (blog["articles"], wire["articles"], wire["errors"]) == (3, 3, 1)
    assert blog["editorial_share"]["value"] == 1.0 and wire["editorial_share"]["value"] == 0.0
    assert abs(blog["commentary_share"]["value"] - 6 / 25) < 1e-4  # (2 + 3 + 1) of (10 + 10 + 5)
    assert abs(wire["commentary_share"]["value"] - 1 / 45) < 1e-4
    for g in groups.values():
        for m in ("editorial_share", "commentary_share"):
            assert g[m]["ci_low"] <= g[m]["value"] <= g[m]["ci_high"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| blog | 3 | 0 | 1.000 [1.000, 1.000] |" in md
    assert (tmp_path / "r" / "corpus.png").read_bytes()[:4] == b"\x89PNG"


def test_by_source_and_month_reads_strings_and_timestamps(tmp_path, capsys):
    out = _batch_output(tmp_path)
    assert main(["corpus-report", str(out), "--by", "source", "--by", "month", "--resamples", "50"]) == 0
    metrics = json.loads((out / "_report" / "metrics.json").read_text())
    groups = {(g["group"]["source"], g["group"]["month"]): g["articles"] for g in metrics["groups"]}
    assert groups == {("all", "all"): 6, ("blog", "2024-01"): 2, ("blog", "2024-02"): 1,
                      ("wire", "2024-01"): 1, ("wire", "2024-02"): 2}


def test_missing_group_column_is_one_line(tmp_path, capsys):
    out = _batch_output(tmp_path)
    assert main(["corpus-report", str(out), "--by", "outlet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"presslens: error: {out}: no column 'outlet' to group by"
    assert main(["corpus-report", str(tmp_path / "nowhere"), "--by", "source"]) == 2
    assert "no such directory" in capsys.readouterr().err
