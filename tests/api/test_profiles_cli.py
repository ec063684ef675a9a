"""--model NAME everywhere a model is chosen: the CLI commands and reload take profile names."""

from __future__ import annotations

from pathlib import Path

import pytest
from presslens.model import settings
from presslens.model.profiles import WEIGHTS_DIR

from tests.conftest import SEEDS


@pytest.mark.parametrize("command", [["analyze", "{seed}"], ["coverage", "{seed}", "{seed}"],
                                     ["eval", "stance", "--data", "{ct}", "--format", "checkthat", "--out", "{out}"],
                                     ["serve"], ["prepare"], ["batch", "{rows}", "--out", "{out}", "--engine", "local"]])
def test_every_command_refuses_accurate_without_mpnet_in_one_line(command, tmp_path, monkeypatch, capsys):
    from presslens.api.cli import main

    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path / "home"))
    settings.reload()
    ct = tmp_path / "ct.tsv"
    ct.write_text("sentence_id\tsentence\tlabel\n1\tThe minister said the talks would go on.\tOBJ\n")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a", "text": "The minister said the talks would go on."}\n')
    argv = [a.format(seed=SEEDS[0], ct=ct, out=tmp_path / "out", rows=rows) for a in command] + ["--model", "accurate"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "presslens models install mpnet" in err[0]


def test_reload_accepts_a_profile_name(tmp_path):
    from presslens.api.registry import resolve_checkpoint

    assert resolve_checkpoint(None, "default") == Path(WEIGHTS_DIR / "stance")
