"""The Python API (``presslens.load``): results equal the CLI's JSON, single and list inputs, batching,
``to_pandas``, ``classify``, and bad input named in one exception. Tiny random models throughout."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from presslens.model.errors import ModelLoadError
from presslens.model.intake import IntakeError
from presslens.model.pipeline import Analysis, CoverageResult

import presslens


@pytest.fixture(scope="module")
def lens(tiny_stance_dir):
    return presslens.load(tiny_stance_dir)


@pytest.fixture(scope="module")
def seed_files(seed_texts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    for key, text in sorted(seed_texts.items()):
        (folder / f"{key}.txt").write_text(text, encoding="utf-8")
    return sorted(folder.glob("*.txt"))


def _cli_json(capsys, args: list[str]):
    from presslens.api.cli import main

    capsys.readouterr()
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def _items(files):
    return [{"id": p.stem, "text": p.read_text(encoding="utf-8")} for p in files]


def test_import_presslens_loads_no_model_and_no_torch():
    code = ("import sys, presslens; presslens.load; presslens.to_pandas; presslens.IntakeError; "
            "heavy = [m for m in ('torch', 'transformers', 'presslens.model.pipeline', 'pandas') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("options", [[], ["--claims-only", "--words", "40"], ["--sentences", "1"]])
def test_analyze_equals_the_cli_json(lens, tiny_stance_dir, seed_files, capsys, options):
    cli = _cli_json(capsys, ["analyze", "--model", str(tiny_stance_dir), *options, *map(str, seed_files)])
    kwargs = {"claims_only": "--claims-only" in options}
    for flag in ("--words", "--sentences"):
        if flag in options:
            kwargs[flag[2:]] = int(options[options.index(flag) + 1])
    results = lens.analyze(_items(seed_files), **kwargs)
    assert all(isinstance(r, Analysis) for r in results)
    assert [r.to_dict() for r in results] == cli
    assert [r["id"] for r in cli] == ["000", "001", "002", "003", "004"]


def test_coverage_equals_the_cli_json(lens, tiny_stance_dir, seed_files, capsys):
    cli = _cli_json(capsys, ["coverage", "--model", str(tiny_stance_dir), *map(str, seed_files)])
    result = lens.coverage(_items(seed_files))
    assert isinstance(result, CoverageResult)
    assert result.to_dict() == cli


def test_one_item_in_one_result_out_and_a_list_gives_a_list(lens, seed_texts):
    text = seed_texts["000"]
    one = lens.analyze(text)
    assert isinstance(one, Analysis) and one.article.id == "article-0"
    many = lens.analyze([text, {"text": seed_texts["004"], "id": "x", "title": "A headline"}])
    assert isinstance(many, list) and [r.article.id for r in many] == ["article-0", "x"]
    assert many[0].to_dict() == one.to_dict()
    assert many[1].to_dict()["title"] == "A headline"
    from presslens.model.text import Article

    art = Article(seed_texts["001"], id="given")
    assert lens.analyze(art).article is art
    assert lens.analyze(iter([art]))[0].article.id == "given"  # any iterable of items


def test_batches_give_the_results_of_one_pass_and_show_progress(lens, seed_texts, capsys):
    items = [{"id": k, "text": t} for k, t in sorted(seed_texts.items())]
    whole = lens.analyze(items, batch_size=32, progress=False)
    capsys.readouterr()
    chunked = lens.analyze(items, batch_size=2, progress=True)
    assert "5/5" in capsys.readouterr().err  # the tqdm bar counted every article
    assert [r.article.id for r in chunked] == [r.article.id for r in whole]
    for a, b in zip(chunked, whole, strict=True):
        assert a.stance.label == b.stance.label
        np.testing.assert_allclose([s.probability for s in a.stance.sentences],
                                   [s.probability for s in b.stance.sentences], atol=1e-5)
    lens.analyze(items[:1], progress=None)
    assert capsys.readouterr().err == ""  # no bar when stderr is not a terminal


def test_to_pandas_one_row_per_article_or_sentence(lens, seed_texts):
    from presslens.library import ARTICLE_COLUMNS, SENTENCE_COLUMNS

    results = lens.analyze([{"id": k, "text": t} for k, t in sorted(seed_texts.items())], sentences=2)
    articles = presslens.to_pandas(results)
    assert list(articles.columns) == list(ARTICLE_COLUMNS) and len(articles) == 5
    assert list(articles["id"]) == sorted(seed_texts)
    assert list(articles["label"]) == [r.stance.label for r in results]
    assert list(articles["n_commentary"]) == [len(r.stance.evidence) for r in results]
    sentences = presslens.to_pandas(results, level="sentence")
    assert list(sentences.columns) == list(SENTENCE_COLUMNS)
    assert len(sentences) == sum(len(r.article.sentences) for r in results)
    assert sentences.groupby("id")["in_summary"].sum().to_dict() == {r.article.id: len(r.summary) for r in results}
    assert len(presslens.to_pandas(results[0])) == 1  # one result alone
    covered = presslens.to_pandas(lens.coverage([r.article for r in results[:2]]))
    assert list(covered["id"]) == ["000", "001"]


def test_classify_gives_the_stance_models_probabilities(lens):
    texts = ["Guess it sort of slipped his mind.", "The talks resumed on Monday in London.",
             "I think this is a waste of time, do you?"]
    results = lens.classify(texts)
    expected = lens.stance.predict_proba(texts)
    np.testing.assert_allclose([r.probability for r in results], expected[:, 1], rtol=1e-6)
    np.testing.assert_allclose(lens.predict_proba(texts, batch_size=2), expected, rtol=1e-6)
    assert [r.label for r in results] == lens.stance.predict(texts)
    one = lens.classify(texts[0])
    assert one.text == texts[0] and one.scores["neutral"] == pytest.approx(1 - one.probability)
    frame = presslens.to_pandas(results)
    assert list(frame.columns) == ["text", "label", "probability"] and len(frame) == 3
    assert lens.classify([]) == [] and lens.predict_proba([]).shape == (0, 2)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda a: a.analyze(""), IntakeError, "article-0: the article is empty"),
    (lambda a: a.analyze(["ok. fine.", "\x00abc"]), IntakeError, "article-1: binary data"),
    (lambda a: a.analyze("x" * 100_001), IntakeError, "at most 100000"),
    (lambda a: a.analyze([]), IntakeError, "no articles given"),
    (lambda a: a.analyze(42), TypeError, "must be a string or a list, got int"),
    (lambda a: a.analyze([b"bytes"]), TypeError, "article 0: expected a string, a dict or an Article, got bytes"),
    (lambda a: a.analyze(b"bytes"), TypeError, "decode bytes to str first"),
    (lambda a: a.analyze({"body": "x"}), ValueError, "article 0: unknown key 'body'"),
    (lambda a: a.analyze({"text": 3}), TypeError, "article 0: 'text' must be a string"),
    (lambda a: a.analyze({"text": "a", "html": "<p>b</p>"}), IntakeError, "exactly one of 'text' or 'html'"),
    (lambda a: a.analyze("Talks resumed.", sentences=0), ValueError, "sentences must be a whole number"),
    (lambda a: a.analyze("Talks resumed.", batch_size=1.5), ValueError, "batch_size must be a whole number"),
    (lambda a: a.coverage("Talks resumed."), IntakeError, "at least two articles"),
    (lambda a: a.classify(["fine", "  "]), IntakeError, "sentence 1 is empty"),
    (lambda a: a.classify([1]), TypeError, "sentence 0: expected a string"),
    (lambda a: presslens.to_pandas(["x"]), TypeError, "not str"),
    (lambda a: presslens.to_pandas([], level="word"), ValueError, "level must be"),
])
def test_bad_input_is_one_exception_naming_the_problem(lens, call, error, words):
    with pytest.raises(error) as info:
        call(lens)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_bad_model_or_settings_are_named(tmp_path):
    with pytest.raises(ModelLoadError, match="is not a directory"):
        presslens.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="bad runtime 'gpu'"):
        presslens.load("default", runtime="gpu")
    with pytest.raises(ValueError, match="bad precision 'fp8'"):
        presslens.load("default", precision="fp8")
    with pytest.raises(TypeError, match="profile name or a checkpoint directory"):
        presslens.load(3)
    with pytest.raises(AttributeError):
        presslens.nothing_here  # noqa: B018


def test_to_pandas_without_pandas_says_how_to_install_it(lens, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas then raises ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        presslens.to_pandas(lens.classify(["Talks resumed."]))
