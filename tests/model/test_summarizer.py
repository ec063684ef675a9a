"""Extractive summarizer: features, selection (budget, order, offsets, MMR, masks), persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from presslens.model.encoder import ModelLoadError
from presslens.model.pipeline import default_summarizer_path
from presslens.model.summarizer import (
    FEATURES,
    Candidate,
    ExtractiveSummarizer,
    Scorer,
    ScorerConfig,
    mmr_select,
    sentence_features,
)
from presslens.model.text import Article

TEXT = (
    "Storm closes city schools\n\n"
    "A powerful storm closed every school in the city on Monday, officials said.\n\n"
    "The storm brought winds of 90 mph and knocked out power to 40,000 homes. Crews worked overnight.\n\n"
    "He said it was the worst in a decade.\n\n"
    "Why does this keep happening?\n\n"
    "Schools are expected to reopen on Wednesday."
)


def _emb(article: Article, seed: int = 0, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(len(article.sentences), dim)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def _col(name: str) -> int:
    return FEATURES.index(name)


def test_features_describe_position_questions_and_fragments():
    a = Article(TEXT)
    f = sentence_features(a, _emb(a))
    body = [s.text for s in a.body_sentences]
    assert f.shape == (len(body), len(FEATURES))
    assert f[0, _col("first")] == 1 and f[1:, _col("first")].sum() == 0
    assert f[:3, _col("lead3")].tolist() == [1, 1, 1]
    q = body.index("Why does this keep happening?")
    assert f[q, _col("question")] == 1 and f[0, _col("question")] == 0
    assert f[body.index("He said it was the worst in a decade."), _col("dangling")] == 1
    # "Crews worked overnight." continues its paragraph; the next one opens a new paragraph
    crews = body.index("Crews worked overnight.")
    assert f[crews, _col("para_first")] == 0 and f[crews + 1, _col("para_first")] == 1
    assert f[0, _col("attributed")] == 1  # "..., officials said."
    assert f[:, _col("multi")].sum() == 0
    # A second article's support shows up only in coverage mode.
    g = sentence_features(a, _emb(a), others=[_emb(a)[1:3]])
    assert g[:, _col("multi")].min() == 1 and g[0, _col("support_max")] > 0.99


def test_summary_budget_order_offsets_and_scores():
    a = Article(TEXT)
    summ = ExtractiveSummarizer()
    out = summ.summarize(a, _emb(a), max_sentences=2)
    assert len(out) == 2
    assert [s.index for s in out] == sorted(s.index for s in out)
    for s in out:
        assert a.clean_text[s.start:s.end] == s.text
        assert 0.0 <= s.score <= 1.0
        assert not a.sentences[s.index].is_title
    by_words = summ.summarize(a, _emb(a), max_sentences=None, max_words=20)
    assert by_words and sum(len(s.text.split()) for s in by_words) <= 20


def test_allowed_mask_excludes_sentences():
    a = Article(TEXT)
    first = a.body_sentences[0].index
    allowed = [i != first for i in range(len(a.sentences))]
    out = ExtractiveSummarizer().summarize(a, _emb(a), max_sentences=3, allowed=allowed)
    assert first not in [s.index for s in out] and len(out) == 3


def test_mmr_skips_a_duplicate():
    emb = np.eye(4, dtype=np.float32)
    emb[1] = emb[0]  # sentence 1 repeats sentence 0
    cands = [Candidate(0, k, k, 10, s) for k, s in enumerate([0.9, 0.89, 0.5, 0.4])]
    assert sorted(mmr_select(cands, emb, lam=0.6, max_sentences=2, max_words=None)) == [0, 2]
    assert sorted(mmr_select(cands, emb, lam=1.0, max_sentences=2, max_words=None)) == [0, 1]


def test_candidate_cap_keeps_long_articles_bounded():
    text = "Headline of a long piece\n\n" + "\n\n".join(f"Sentence number {i} says something new." for i in range(300))
    a = Article(text)
    summ = ExtractiveSummarizer(ScorerConfig(max_candidates=10))
    out = summ.summarize(a, _emb(a), max_sentences=3)
    assert len(out) == 3


def test_round_trip_and_json_only(tmp_path):
    scorer = Scorer(mean=[0.5] * len(FEATURES), scale=[2.0] * len(FEATURES),
                    layers=[{"weight": np.random.default_rng(1).normal(size=(4, len(FEATURES))).tolist(),
                             "bias": [0.0] * 4},
                            {"weight": [[1.0, -1.0, 0.5, 0.2]], "bias": [0.1]}])
    summ = ExtractiveSummarizer(ScorerConfig(single=scorer, multi=None, mmr_lambda=0.65, training={"x": 1}))
    path = summ.save_pretrained(tmp_path / "s", card="# card\n")
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json"]
    back = ExtractiveSummarizer.from_pretrained(path)
    a = Article(TEXT)
    e = _emb(a)
    np.testing.assert_allclose(back.scores(a, e), summ.scores(a, e), rtol=1e-5)
    assert back.config.mmr_lambda == 0.65 and back.trained


@pytest.mark.parametrize("payload", [
    "not json", json.dumps({"format": "something-else"}),
    json.dumps({"format": "presslens-summarizer", "single": {"mean": [0], "scale": [1], "layers": []}}),
    json.dumps({"format": "presslens-summarizer", "weights": {"nonsense_feature": 1.0}}),
])
def test_bad_checkpoints_fail_clearly(tmp_path, payload):
    (tmp_path / "config.json").write_text(payload)
    with pytest.raises(ModelLoadError):
        ExtractiveSummarizer.from_pretrained(tmp_path)


def test_shipped_scorer_loads_and_is_trained():
    path = default_summarizer_path()
    assert (path / "config.json").is_file(), f"the shipped summarizer is missing from {path}"
    summ = ExtractiveSummarizer.from_pretrained(path)
    assert summ.trained and summ.config.multi is not None
    assert not any(p.suffix in (".bin", ".pt", ".pkl", ".pickle") for p in path.iterdir())
    a = Article(TEXT)
    out = summ.summarize(a, _emb(a), max_sentences=3)
    assert len(out) == 3
