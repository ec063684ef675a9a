"""model.batch: rows in, result rows out over the Analyzer; every bad row named, none raising."""

from __future__ import annotations

from presslens.model.batch import READ_ERROR, RowLimits, analyze_rows
from presslens.model.text import Article

MAX_CHARS = 20_000


def test_analyze_rows_is_the_analyzer_result_and_names_bad_rows(tiny_analyzer, seed_texts):
    rows = [{"id": "a", "text": seed_texts["001"]}, {"text": ""}, {"id": "n", "text": None}, {"id": 7},
            {"id": "big", "text": "x " * 60}, {READ_ERROR: "not UTF-8"}, {"id": "b", "text": seed_texts["004"]}]
    out = analyze_rows(tiny_analyzer, rows, [f"d{i}" for i in range(len(rows))], RowLimits(max_chars=100))
    assert [r["id"] for r in out] == ["a", "d1", "n", "7", "big", "d5", "b"]
    assert [r["error"] for r in out][1:6] == ["empty text", "null text", "no 'text' or 'html' field",
                                              "120 characters, at most 100 per article "
                                              "(PRESSLENS_MAX_CHARS)", "not UTF-8"]
    for r in out[1:6]:
        assert r["label"] is None and r["sentences"] is None
    # An analysed row is the Analyzer's own result, flattened (limit high enough for the two good rows).
    out = analyze_rows(tiny_analyzer, rows[:1], ["d0"], RowLimits(max_chars=MAX_CHARS))
    ref = tiny_analyzer.analyze([Article(seed_texts["001"], id="a")])[0].to_dict()
    got = out[0]
    assert got["error"] is None and got["label"] == ref["label"]
    assert got["commentary"] == ref["commentary"]
    assert got["summary"] == [s["text"] for s in ref["summary"]]
    assert got["n_sentences"] == len(ref["sentences"])
    assert [s["probability"] for s in got["sentences"]] == [s["probability"] for s in ref["sentences"]]


def test_one_failing_article_does_not_fail_its_batch(tiny_analyzer, seed_texts, monkeypatch):
    real = tiny_analyzer.analyze

    def flaky(articles, options=None):
        if any(a.id == "bad" for a in articles):
            raise RuntimeError("boom")
        return real(articles, options)

    monkeypatch.setattr(tiny_analyzer, "analyze", flaky)
    rows = [{"id": "ok", "text": seed_texts["000"]}, {"id": "bad", "text": seed_texts["002"]}]
    out = analyze_rows(tiny_analyzer, rows, ["x", "y"], RowLimits(MAX_CHARS))
    assert out[0]["error"] is None and out[0]["label"] in ("neutral", "editorial")
    assert out[1]["error"] == "analysis failed: RuntimeError: boom"
