"""``presslens analyze`` as a user runs it: JSON and text output, stdin, and clear errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from presslens.api.cli import main
from presslens.model import settings

from tests.conftest import SEEDS


def _run(argv, capsys, stdin: bytes | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_json(tiny_stance_dir, capsys):
    code, out, err = _run(["analyze", "--model", str(tiny_stance_dir), str(SEEDS[1]), str(SEEDS[4])], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [d["id"] for d in data] == [SEEDS[1].stem, SEEDS[4].stem]
    for d in data:
        assert d["label"] in ("neutral", "editorial")
        assert len(d["summary"]) == 3 and all(s["text"] for s in d["summary"])
        assert all("Advertisement" not in s["text"] for s in d["sentences"])


def test_words_is_a_word_budget_not_capped_by_the_sentence_default(tiny_stance_dir, capsys):
    def summary(*budget):
        code, out, err = _run(["analyze", "--model", str(tiny_stance_dir), *budget, str(SEEDS[1])], capsys)
        assert code == 0, err
        return json.loads(out)[0]["summary"]

    words = lambda s: sum(len(x["text"].split()) for x in s)  # noqa: E731
    loose = summary("--words", "150")
    assert len(loose) > 3 and words(loose) <= 150
    assert len(summary()) == 3  # no budget at all: three sentences
    both = summary("--words", "150", "--sentences", "2")
    assert len(both) <= 2 and words(both) <= 150
    tight = summary("--words", "30")
    assert words(tight) <= 30


def test_analyze_stdin_and_text_format(tiny_stance_dir, capsys, monkeypatch):
    raw = SEEDS[2].read_bytes()
    code, out, err = _run(["analyze", "--model", str(tiny_stance_dir), "--format", "text", "-"], capsys, raw, monkeypatch)
    assert code == 0, err
    assert out.startswith("== stdin: ")
    assert "Summary:" in out and "Commentary (" in out


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty input"), (b"   \n\n ", "empty input"), (b"\xff\xfe\x00\x01binary", "not UTF-8"),
     (b"abc\x00def", "binary"), (b"Advertisement\nShare This Story\n", "no sentences")],
)
def test_bad_input_exits_2_with_one_line(tmp_path, tiny_stance_dir, capsys, content, message):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    code, out, err = _run(["analyze", "--model", str(tiny_stance_dir), str(f)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("presslens: error: ")


def test_an_article_over_the_size_limit_is_refused_as_the_api_refuses_it(tmp_path, tiny_stance_dir, capsys,
                                                                        monkeypatch):
    monkeypatch.setenv("PRESSLENS_MAX_CHARS", "200")
    settings.reload()
    f = tmp_path / "long.txt"
    f.write_text("Kerry met Lavrov in London on Friday. " * 10)
    code, out, err = _run(["analyze", "--model", str(tiny_stance_dir), str(f)], capsys)
    assert (code, out) == (2, "")
    assert err == "presslens: error: long: 380 characters, at most 200 per article (PRESSLENS_MAX_CHARS)\n"


@pytest.mark.parametrize("command", [["analyze", str(SEEDS[0])], ["serve"]])
def test_a_bad_threads_setting_stops_the_command_with_one_line(capsys, monkeypatch, command):
    monkeypatch.setenv("PRESSLENS_THREADS", "lots")
    settings.reload()
    code, out, err = _run(command, capsys)
    assert (code, out) == (2, "")
    assert err == ("presslens: error: bad setting PRESSLENS_THREADS='lots': expected a whole number of "
                   "threads\n")


def test_missing_file_and_bad_model(tmp_path, capsys):
    code, _, err = _run(["analyze", str(tmp_path / "nope.txt")], capsys)
    assert code == 2 and "no such file" in err
    f = tmp_path / "a.txt"
    f.write_text("Kerry met Lavrov in London on Friday.")
    code, _, err = _run(["analyze", "--model", str(tmp_path), str(f)], capsys)
    assert code == 2 and "has no config.json" in err and err.count("\n") == 1


@pytest.mark.integration
def test_seeds_with_the_shipped_model():
    """The bar of the skeleton: run as a user would, in a subprocess, offline."""
    proc = subprocess.run([sys.executable, "-m", "presslens.api.cli", "analyze", *map(str, SEEDS)], capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    results = {d["id"][:3]: d for d in json.loads(proc.stdout)}
    assert {k: v["label"] for k, v in results.items()} == {
        "000": "neutral", "001": "neutral", "002": "neutral", "003": "neutral", "004": "editorial"}
    flagged = {s["text"] for s in results["004"]["sentences"] if s["commentary"]}
    asides = ["Guess it sort of slipped his mind.", "I don't think they're going out for lunch afterwards, do you?",
              "No doubt the two old commies shared a laugh at the notion that Putin would actually agree not to "
              "annex the Crimea after the referendum."]
    assert sum(a in flagged for a in asides) >= 2, flagged
    for key in ("001", "002"):
        assert sum(s["commentary"] for s in results[key]["sentences"]) <= 1
    for s in results["000"]["summary"]:
        assert "MORE" not in s["text"] and "KerryJohn" not in s["text"]
    assert all(s["text"] != "Advertisement" for r in results.values() for s in r["sentences"])


def test_prepare_exports_once_and_names_the_cache(tiny_stance_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRESSLENS_CACHE_DIR", str(tmp_path))
    settings.reload()
    assert main(["prepare", "--model", str(tiny_stance_dir)]) == 0
    first = capsys.readouterr().out
    exports = list((tmp_path / "onnx").iterdir())
    assert len(exports) == 1 and str(exports[0]) in first and "optimised graph" in first
    assert main(["prepare", "--model", str(tiny_stance_dir)]) == 0  # found, not exported again
    assert str(exports[0]) in capsys.readouterr().out and list((tmp_path / "onnx").iterdir()) == exports
    assert main(["prepare", "--model", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a directory" in err[0]


def test_every_subcommand_is_wired_from_outside_the_checkout(tmp_path):
    """Run from another directory (the repository root not on sys.path, as for an installed console
    script), the CLI still finds every eval and training subcommand by its installed module name."""
    code = "from presslens.api.cli import main; main(['eval', '--help'])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("stance", "summarize"):
        assert name in proc.stdout
