"""The Analyzer: one encoder pass for a batch, summary budget and order, the shared JSON shape."""

from __future__ import annotations

import numpy as np
from presslens.model.pipeline import AnalyzeOptions
from presslens.model.text import Article


def test_one_encoder_pass_for_the_whole_batch(tiny_analyzer, seed_texts, monkeypatch):
    calls = []
    real = tiny_analyzer.encoder.encode_ids  # Analyzer.embed tokenizes (a stage of its own), then encodes the ids
    monkeypatch.setattr(tiny_analyzer.encoder, "encode_ids", lambda ids, **kw: calls.append(len(ids)) or real(ids, **kw))
    articles = [Article(seed_texts[k], id=k) for k in ("000", "001", "004")]
    results = tiny_analyzer.analyze(articles)
    assert calls == [sum(len(a.sentences) for a in articles)]
    assert [r.article.id for r in results] == ["000", "001", "004"]


def test_batch_results_equal_single_results(tiny_analyzer, seed_texts):
    articles = [Article(seed_texts[k], id=k) for k in ("002", "003")]
    together = [r.to_dict() for r in tiny_analyzer.analyze(articles)]
    alone = [tiny_analyzer.analyze([a])[0].to_dict() for a in articles]
    for t, a in zip(together, alone, strict=True):
        assert t["label"] == a["label"] and [s["text"] for s in t["summary"]] == [s["text"] for s in a["summary"]]
        np.testing.assert_allclose([s["probability"] for s in t["sentences"]],
                                   [s["probability"] for s in a["sentences"]], atol=1e-4)


def test_summary_budget_and_article_order(tiny_analyzer, seed_texts):
    art = Article(seed_texts["002"], id="002")
    for n in (1, 2, 4):
        summary = tiny_analyzer.analyze([art], AnalyzeOptions(summary_sentences=n))[0].to_dict()["summary"]
        assert len(summary) == n
        starts = [s["start"] for s in summary]
        assert starts == sorted(starts)
        for s in summary:
            assert art.clean_text[s["start"] : s["end"]] == s["text"]
            assert not art.sentences[s["index"]].is_title
            assert 0.0 <= s["score"] <= 1.0


def test_word_budget(tiny_analyzer, seed_texts):
    art = Article(seed_texts["001"], id="001")
    summary = tiny_analyzer.analyze([art], AnalyzeOptions(summary_sentences=None, summary_words=60))[0].summary
    words = [len(s.text.split()) for s in summary]
    assert summary and (sum(words) <= 60 or len(words) == 1)


def test_claims_only_leaves_commentary_out(tiny_analyzer, seed_texts):
    art = Article(seed_texts["004"], id="004")
    result = tiny_analyzer.analyze([art], AnalyzeOptions(summary_sentences=5, claims_only=True))[0].to_dict()
    flagged = {s["index"] for s in result["sentences"] if s["commentary"]}
    assert all(s["index"] not in flagged for s in result["summary"])


def test_result_shape(tiny_analyzer, seed_texts):
    d = tiny_analyzer.analyze([Article(seed_texts["003"], id="003")])[0].to_dict()
    assert d["id"] == "003" and d["label"] in ("neutral", "editorial")
    assert 0.5 <= d["confidence"] <= 1.0
    assert d["title"] == "Kerry Headed to London to Meet with Russia’s Foreign Minister"
    for s in d["sentences"]:
        assert set(s) >= {"text", "start", "end", "commentary", "probability", "reported", "speaker"}
        assert 0.0 <= s["probability"] <= 1.0
    assert d["commentary"] == [s["index"] for s in d["sentences"] if s["commentary"]]
