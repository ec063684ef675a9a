"""Coverage across outlets: shared claim clusters with their sources, unique claims, the event summary."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.model.coverage import build_coverage, event_summary
from presslens.model.summarizer import ExtractiveSummarizer
from presslens.model.text import Article

A = ("Talks on the crisis open in London\n\n"
     "The two ministers met in London on Friday.\n\n"
     '"This is a difficult situation we are in," Lavrov said.\n\n'
     "The weather in London was mild.")
B = ("Ministers meet in London\n\n"
     "Foreign ministers held talks in London on Friday.\n\n"
     'Lavrov said it was a "difficult situation" as much had happened.\n\n'
     "A vote is planned in the region on Sunday.")
C = ("An unrelated report on farming\n\n"
     "Wheat prices rose sharply this week.\n\n"
     "Farmers expect a good harvest.")


def _embed(articles: list[Article]) -> list[np.ndarray]:
    """Hand-made embeddings: sentences about the meeting share a direction, everything else is orthogonal."""
    out, basis = [], 0
    for a in articles:
        e = np.zeros((len(a.sentences), 64), dtype=np.float32)
        for i, s in enumerate(a.sentences):
            if "met in London" in s.text or "held talks in London" in s.text:
                e[i, 0], e[i, 1 + basis] = 1.0, 0.2  # close paraphrases
            else:
                e[i, 10 + basis] = 1.0  # unique directions
            basis += 1
        out.append(e / np.linalg.norm(e, axis=1, keepdims=True))
    return out


def test_shared_claims_by_meaning_and_by_quote():
    arts = [Article(A, id="a"), Article(B, id="b"), Article(C, id="c")]
    cov = build_coverage(arts, _embed(arts), ExtractiveSummarizer(), threshold=0.7,
                         speakers=[[None] * len(a.sentences) for a in arts])
    texts = [{c.text for c in cl.claims} for cl in cov.shared]
    # the paraphrased meeting sentence (embeddings) and the Lavrov quote (shared quotation, unrelated vectors)
    assert {"The two ministers met in London on Friday.", "Foreign ministers held talks in London on Friday."} in texts
    assert any('"This is a difficult situation we are in," Lavrov said.' in t
               and 'Lavrov said it was a "difficult situation" as much had happened.' in t for t in texts)
    # every shared claim is between a and b (and there is at least one)
    assert cov.shared and {frozenset(cl.articles) for cl in cov.shared} == {frozenset({"a", "b"})}
    # nothing from the farming report is shared; its claims are its own
    assert all("c" not in cl.articles for cl in cov.shared)
    assert {c.text for c in cov.unique["c"]} == {"Wheat prices rose sharply this week.", "Farmers expect a good harvest."}
    assert "The weather in London was mild." in {c.text for c in cov.unique["a"]}
    d = cov.to_dict()
    assert set(d) == {"summary", "shared", "unique"} and d["shared"][0]["articles"]


def test_commentary_is_never_a_claim_and_claims_only_summary_skips_it():
    arts = [Article(A, id="a"), Article(B, id="b")]
    embs = _embed(arts)
    excluded = [[s.text.startswith("The weather") for s in a.sentences] for a in arts]
    cov = build_coverage(arts, embs, ExtractiveSummarizer(), excluded=excluded, claims_only=True, max_sentences=5)
    assert all("weather" not in c.text for c in cov.unique["a"])
    assert all("weather" not in c.text for c in cov.summary)


def test_event_summary_budget_and_sources():
    arts = [Article(A, id="a"), Article(B, id="b"), Article(C, id="c")]
    out = event_summary(arts, _embed(arts), ExtractiveSummarizer(), max_sentences=2)
    assert len(out) == 2
    for c in out:
        art = arts[c.article_index]
        assert c.article == art.id and art.clean_text[c.start:c.end] == c.text


@pytest.mark.integration
def test_seed_coverage_shows_the_shared_quotes(seed_texts):
    """The real encoder over the five seeds: Lavrov's and Cameron's quotes are shared claims with sources."""
    from presslens.model.pipeline import AnalyzeOptions, Analyzer

    arts = [Article(seed_texts[k], id=k) for k in sorted(seed_texts)]
    result = Analyzer.load().coverage(arts, AnalyzeOptions(claims_only=True)).to_dict()

    def cluster_with(phrase: str) -> dict:
        hits = [cl for cl in result["shared"] if any(phrase in c["text"] for c in cl["claims"])]
        assert hits, f"no shared cluster holds {phrase!r}"
        return max(hits, key=lambda cl: len(cl["articles"]))

    lavrov = cluster_with("difficult situation")
    assert {"000", "001", "002"} <= set(lavrov["articles"])
    assert lavrov["speaker"] and "Lavrov" in lavrov["speaker"]
    cameron = cluster_with("consequences")
    assert {"000", "002"} <= set(cameron["articles"])
    assert "Cameron" in (cameron["speaker"] or "")
    asides = ("Guess it sort of", "I guess", "No doubt", "I don't think", "summed up by this picture")
    for c in result["summary"] + result["unique"]["004"]:
        assert not any(a in c["text"] for a in asides)


@pytest.mark.integration
@pytest.mark.parametrize("claims_only", [False, True])
def test_seed_coverage_bar(seed_texts, claims_only):
    """The coverage bar of issue 29 with the shipped default at its calibrated link cosine: the shared quotes
    with their speakers, 004's own Lavrov quote not shared (002 was written before the meeting), and every
    shared claim shown with a text of the speaker it names."""
    from presslens.model.coverage import speaker_key
    from presslens.model.pipeline import AnalyzeOptions, Analyzer

    arts = [Article(seed_texts[k], id=k) for k in sorted(seed_texts)]
    result = Analyzer.load().coverage(arts, AnalyzeOptions(claims_only=claims_only)).to_dict()
    shared = result["shared"]

    def holding(phrase: str) -> list[dict]:
        return [cl for cl in shared if any(phrase in c["text"] for c in cl["claims"])]

    [lavrov] = holding("difficult situation")
    assert {"000", "001", "002"} <= set(lavrov["articles"]) and "Lavrov" in (lavrov["speaker"] or "")
    [cameron] = holding("consequences")
    assert {"000", "002"} <= set(cameron["articles"]) and "Cameron" in (cameron["speaker"] or "")
    [kerry] = holding("I look forward")
    assert {"001", "002"} <= set(kerry["articles"])
    assert not holding("pointless to speculate")
    for cl in shared:
        face = [c for c in cl["claims"] if c["text"] == cl["text"]]
        assert face, cl
        if cl["speaker"]:
            assert any(speaker_key(c["speaker"]) == speaker_key(cl["speaker"]) for c in face), cl


def test_two_speakers_are_never_one_claim_and_a_cluster_shows_its_speakers_text():
    """Close sentences attributed to different speakers stay apart; a cluster's speaker and text come from
    one member (here the representative names Lavrov although the salient sentence names nobody)."""
    arts = [Article(A, id="a"), Article(B, id="b")]
    embs = _embed(arts)
    speakers = [[None] * len(a.sentences) for a in arts]
    meeting = [next(i for i, s in enumerate(a.sentences) if "London on Friday" in s.text) for a in arts]
    speakers[0][meeting[0]], speakers[1][meeting[1]] = "Sergei Lavrov", "a senior official"
    cov = build_coverage(arts, embs, ExtractiveSummarizer(), speakers=speakers, max_sentences=2)
    assert not any(any("London on Friday" in c.text for c in cl.claims) for cl in cov.shared)
    speakers[1][meeting[1]] = "Lavrov"
    cov = build_coverage(arts, embs, ExtractiveSummarizer(), speakers=speakers, max_sentences=2)
    [cl] = [cl for cl in cov.shared if any("London on Friday" in c.text for c in cl.claims)]
    assert cl.speaker == "Sergei Lavrov"
    assert any(c.text == cl.text and c.speaker and c.speaker.endswith("Lavrov") for c in cl.claims)
