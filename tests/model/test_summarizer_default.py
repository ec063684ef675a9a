"""The shipped summarizer (beside the shipped stance model) on the seed articles (real packaged encoder)."""

from __future__ import annotations

import pytest
from presslens.model.pipeline import default_summarizer_path

pytestmark = pytest.mark.integration

ASIDES = ("Guess it sort of slipped his mind.", "I don't think they're going out for lunch afterwards, do you?",
          "No doubt the two old commies shared a laugh")


@pytest.fixture(scope="module")
def analyzer():
    from presslens.model.pipeline import Analyzer

    return Analyzer.load()


def test_claims_only_summary_of_the_blog_keeps_the_writers_asides_out(analyzer, seed_texts):
    from presslens.model.pipeline import AnalyzeOptions
    from presslens.model.text import Article

    for budget in (3, 5):
        [result] = analyzer.analyze([Article(seed_texts["004"], id="004")],
                                    AnalyzeOptions(summary_sentences=budget, claims_only=True))
        texts = [s.text for s in result.summary]
        assert len(texts) == budget
        assert not any(t.startswith(a) for t in texts for a in ASIDES), texts
        assert not any(result.stance.sentences[s.index].commentary for s in result.summary)


def test_shipped_scorer_summarises_the_news_in_article_order(analyzer, seed_texts):
    from presslens.model.text import Article

    assert analyzer.summarizer.trained and analyzer.summarizer.config.multi is not None
    assert analyzer.summarizer_path == default_summarizer_path()  # fitted to this encoder, head and decision
    assert (default_summarizer_path() / "config.json").is_file()
    results = analyzer.analyze([Article(seed_texts[k], id=k) for k in ("000", "001", "002", "003")])
    for r in results:
        assert len(r.summary) == 3
        assert [s.index for s in r.summary] == sorted(s.index for s in r.summary)
