"""Baselines: stance (majority, TF-IDF+LR, frozen encoder+LR) and summaries (Lead-3, TextRank, oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.eval import baselines
from presslens.eval.metrics import macro_f1, rouge
from presslens.training.rouge import greedy_oracle

# Tiny separable stance data: commentary words vs reporting words.
_OPINION = ["i think this is a disgrace", "what a terrible idea, no doubt", "i guess they will fail again",
            "this policy is a shameful mistake", "frankly the plan is absurd", "no doubt a disgrace to all"]
_REPORT = ["the minister said on monday", "officials met in london on friday", "the talks were held in geneva",
           "russia said the meeting would take place", "the state department said it would respond",
           "the referendum was held on sunday"]
TRAIN = _OPINION + _REPORT
TRAIN_Y = ["editorial"] * len(_OPINION) + ["neutral"] * len(_REPORT)
TEST = ["i think it is a disgrace", "the minister met officials in london"]
TEST_Y = ["editorial", "neutral"]


def test_majority_predicts_train_majority_with_its_share():
    m = baselines.MajorityBaseline().fit(TRAIN + _REPORT[:2], TRAIN_Y + ["neutral"] * 2)
    assert m.predict(TEST) == ["neutral", "neutral"]
    assert m.predict_proba(TEST) == pytest.approx([6 / 14] * 2)
    tie = baselines.MajorityBaseline().fit(["a", "b"], ["editorial", "neutral"])
    assert tie.predict(["x"]) == ["neutral"]


def test_tfidf_lr_learns_the_split_and_is_deterministic():
    a = baselines.TfidfLogReg(seed=0).fit(TRAIN, TRAIN_Y)
    assert a.predict(TEST) == TEST_Y
    p = a.predict_proba(TEST)
    assert p[0] > 0.5 > p[1]
    b = baselines.TfidfLogReg(seed=0).fit(TRAIN, TRAIN_Y)
    assert np.array_equal(p, b.predict_proba(TEST))


def test_baselines_reject_bad_train_data():
    with pytest.raises(ValueError, match="labels must be"):
        baselines.TfidfLogReg().fit(["a", "b"], ["SUBJ", "OBJ"])
    with pytest.raises(ValueError, match="empty"):
        baselines.MajorityBaseline().fit([], [])
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        baselines.TfidfLogReg().fit(["a", "b"], ["neutral"])
    one_class = baselines.TfidfLogReg().fit(["a b", "c d"], ["neutral", "neutral"])
    assert one_class.predict(["x"]) == ["neutral"]
    with pytest.raises(ValueError, match="no word tokens"):
        baselines.TfidfLogReg().fit(["!!", "?"], ["neutral", "editorial"])


class _BagEncoder:
    """A stand-in encoder: embeddings that separate opinion words from reporting words, with a call count."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        cues = ("think", "disgrace", "doubt", "guess", "absurd", "shameful", "terrible")
        return np.array([[sum(c in t for c in cues), len(t.split()) / 10, 1.0] for t in texts], dtype=np.float32)


def test_encoder_lr_uses_the_given_encoder_and_caches():
    enc = _BagEncoder()
    runs = baselines.run_stance_baselines(TRAIN, TRAIN_Y, TEST + TEST, encoder=enc, seed=0)
    assert list(runs) == ["majority", "tfidf_lr", "encoder_lr"]
    assert runs["encoder_lr"]["labels"] == TEST_Y + TEST_Y
    assert runs["encoder_lr"]["proba"].shape == (4,)
    assert enc.calls == 2  # train once, test once: repeated texts and predict() reuse the cache
    assert macro_f1(TEST_Y, runs["majority"]["labels"][:2]) == pytest.approx(1 / 3)
    assert "encoder_lr" not in baselines.run_stance_baselines(TRAIN, TRAIN_Y, TEST)


def test_encoder_lr_with_the_tiny_real_encoder(tiny_encoder_dir):
    from presslens.model.encoder import Encoder

    enc = Encoder(tiny_encoder_dir)
    model = baselines.EncoderLogReg(enc, seed=0).fit(TRAIN, TRAIN_Y)
    p = model.predict_proba(TEST)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    assert model.predict(TEST) == [("editorial" if x >= 0.5 else "neutral") for x in p]


SENTS = [
    "Russia and the United States held talks in London on Friday about Crimea.",
    "The foreign minister said the referendum would go ahead on Sunday.",
    "Kerry said sanctions would follow if Russia annexed Crimea.",
    "The weather in London was mild.",
    "Lavrov said Russia had no plans to invade Ukraine.",
    "A spokesman declined to comment on the talks about Crimea and sanctions.",
]


def test_lead_takes_the_first_k():
    assert baselines.lead(SENTS) == [0, 1, 2]
    assert baselines.lead(SENTS[:2], k=3) == [0, 1]
    with pytest.raises(ValueError, match="at least 1"):
        baselines.lead(SENTS, k=0)


def test_pagerank_prefers_the_hub():
    # Star graph: node 0 linked to all others, which link only to 0.
    w = np.zeros((5, 5))
    w[0, 1:] = w[1:, 0] = 1.0
    r = baselines.pagerank(w)
    assert r.sum() == pytest.approx(1.0)
    assert int(np.argmax(r)) == 0 and r[1] == pytest.approx(r[4])
    # No edges at all: uniform.
    assert baselines.pagerank(np.zeros((3, 3))) == pytest.approx([1 / 3] * 3)


def test_textrank_picks_central_sentences_not_the_outlier():
    picked = baselines.textrank(SENTS, k=3)
    assert len(picked) == 3 and picked == sorted(picked)
    assert 3 not in picked  # "The weather in London was mild." shares little with the rest
    # With embeddings, similarity comes from them: make sentences 3 and 4 the tight cluster.
    emb = np.eye(6)
    emb[3] = emb[4] = emb[5] = np.array([0, 0, 0, 1, 1, 1]) / np.sqrt(3)
    assert baselines.textrank(SENTS, k=3, embeddings=emb) == [3, 4, 5]
    with pytest.raises(ValueError, match="embeddings"):
        baselines.textrank(SENTS, embeddings=np.eye(3))
    assert baselines.textrank([], k=3) == []


def test_oracle_is_a_ceiling_over_lead_and_textrank():
    ref = ["Kerry warned of sanctions if Russia annexed Crimea, and Lavrov said Russia would not invade Ukraine."]
    picked = greedy_oracle(SENTS, ref, k=3, objective="best-reference")
    assert 2 in picked and 4 in picked
    assert 3 not in picked  # adding the weather sentence would lower the score, so it is never chosen
    best = rouge([SENTS[i] for i in picked], ref)
    for other in (baselines.lead(SENTS), baselines.textrank(SENTS)):
        got = rouge([SENTS[i] for i in other], ref)
        assert best["rouge1"] + best["rouge2"] >= got["rouge1"] + got["rouge2"]
    with pytest.raises(ValueError, match="reference"):
        greedy_oracle(SENTS, [""], objective="best-reference")


def test_run_summary_baselines_shape():
    out = baselines.run_summary_baselines(SENTS, ["Kerry talked about sanctions."], k=2)
    assert list(out) == list(baselines.SUMMARY_BASELINES)
    assert all(len(v) <= 2 and v == sorted(v) for v in out.values())


def test_stance_report_from_baselines_is_byte_identical_across_runs(tiny_encoder_dir, tmp_path):
    """Fit, predict, bootstrap and write twice from scratch: the same metrics.json bytes."""
    from presslens.eval import report
    from presslens.model.encoder import Encoder

    test = TEST * 5
    gold = TEST_Y * 5
    outs = []
    for run in range(2):
        runs = baselines.run_stance_baselines(TRAIN, TRAIN_Y, test, encoder=Encoder(tiny_encoder_dir), seed=0)
        res = report.compare_classifiers(gold, runs, "encoder_lr", n_resamples=200)
        outs.append(report.write_metrics(tmp_path / str(run), res).read_bytes())
    assert outs[0] == outs[1]
    assert b'"strongest_baseline"' in outs[0] and b'"macro_f1_ci"' in outs[0]
