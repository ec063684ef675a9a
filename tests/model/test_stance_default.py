"""The shipped default stance model on the seed articles (real packaged encoder)."""

from __future__ import annotations

import json

import pytest
from presslens.model.pipeline import default_stance_path

pytestmark = pytest.mark.integration

ASIDES = ("Guess it sort of slipped his mind.", "I don't think they're going out for lunch afterwards, do you?",
          "No doubt the two old commies shared a laugh")


@pytest.fixture(scope="module")
def results(seed_texts):
    from presslens.model.pipeline import Analyzer
    from presslens.model.text import Article

    analyzer = Analyzer.load()
    arts = [Article(seed_texts[k], id=k) for k in sorted(seed_texts)]
    return {r.article.id: r.to_dict() for r in analyzer.analyze(arts)}


def test_seed_labels(results):
    assert {k: r["label"] for k, r in results.items()} == {
        "000": "neutral", "001": "neutral", "002": "neutral", "003": "neutral", "004": "editorial"}


def test_blog_asides_are_flagged(results):
    flagged = [s["text"] for s in results["004"]["sentences"] if s["commentary"]]
    for aside in ASIDES:
        assert any(f.startswith(aside) for f in flagged), (aside, flagged)
    # quoted opinions in the blog stay reporting
    assert not any(f.startswith('"It\'s pointless') for f in flagged)


@pytest.mark.parametrize("seed", ["001", "002"])
def test_wire_news_has_at_most_one_commentary_sentence(results, seed):
    assert len(results[seed]["commentary"]) <= 1


def test_default_model_is_small_and_documented():
    d = default_stance_path()
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    assert size <= 25 * 1024 * 1024
    cfg = json.loads((d / "config.json").read_text())
    card = (d / "README.md").read_text()
    assert cfg["id2label"] == {"0": "neutral", "1": "editorial"}
    assert "CC BY-NC-SA 4.0" in card and "make default-model" in card
