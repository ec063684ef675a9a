"""The sequence scorer: it reads the article around each sentence, trains deterministically, round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from presslens.model.encoder import ModelLoadError
from presslens.model.seqscorer import SequenceConfig, SequenceScorer
from presslens.model.summarizer import FEATURES, ExtractiveSummarizer, ScorerConfig
from presslens.model.text import Article
from presslens.training.seqscorer import Sequence, SequenceArgs, fit_sequence_scorer

TEXT = (
    "Storm closes city schools\n\n"
    "A powerful storm closed every school in the city on Monday, officials said.\n\n"
    "The storm brought winds of 90 mph and knocked out power to 40,000 homes. Crews worked overnight.\n\n"
    "He said it was the worst in a decade.\n\n"
    "Schools are expected to reopen on Wednesday."
)


def _emb(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    e = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def _scorer(dim: int = 16, seed: int = 0) -> SequenceScorer:
    torch.manual_seed(seed)
    return SequenceScorer(SequenceConfig(features=list(FEATURES), embedding_dim=dim, d_model=16, heads=2, ff=32))


def test_round_trip_writes_safetensors_and_json_only(tmp_path):
    summ = ExtractiveSummarizer(ScorerConfig(single=_scorer(seed=1), multi=_scorer(seed=2), training={"x": 1}))
    path = summ.save_pretrained(tmp_path / "s")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "multi.safetensors", "single.safetensors"]
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["single"]["kind"] == "sequence" and cfg["single"]["weights"] == "single.safetensors"
    back = ExtractiveSummarizer.from_pretrained(path)
    a = Article(TEXT)
    e = _emb(len(a.sentences))
    np.testing.assert_allclose(back.scores(a, e), summ.scores(a, e), rtol=1e-5, atol=1e-6)
    assert [s.index for s in back.summarize(a, e)] == [s.index for s in summ.summarize(a, e)]


def test_a_sentence_is_scored_in_its_context():
    scorer = _scorer()
    cols = list(range(len(FEATURES)))
    feats = np.random.default_rng(3).normal(size=(6, len(FEATURES))).astype(np.float32)
    emb = _emb(6)
    base = scorer.logits(feats, emb, cols)
    other = emb.copy()
    other[3:] = _emb(3, seed=9)  # same first three sentences, different rest of the article
    changed = scorer.logits(feats, other, cols)
    assert not np.allclose(base[:3], changed[:3], atol=1e-4)
    assert scorer.logits(feats[:0], emb[:0], cols).shape == (0,)


def test_wrong_embedding_width_names_the_problem():
    with pytest.raises(ValueError, match="16-d embeddings"):
        _scorer().logits(np.zeros((2, len(FEATURES)), np.float32), np.zeros((2, 8), np.float32),
                         list(range(len(FEATURES))))


@pytest.mark.parametrize("change", [
    lambda d: d["single"].update(weights="../elsewhere.safetensors"),
    lambda d: d["single"].update(weights="missing.safetensors"),
    lambda d: d["single"]["config"].update(d_model=24),  # the tensors no longer fit
])
def test_bad_sequence_checkpoints_fail_clearly(tmp_path, change):
    path = ExtractiveSummarizer(ScorerConfig(single=_scorer())).save_pretrained(tmp_path / "s")
    cfg = json.loads((path / "config.json").read_text())
    change(cfg)
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError):
        ExtractiveSummarizer.from_pretrained(path)


def _context_task(n_docs: int = 160, n: int = 8, dim: int = 8) -> list[Sequence]:
    """The label is 1 for the sentence right AFTER a 'marker' sentence: invisible to a per-sentence scorer."""
    rng = np.random.default_rng(0)
    marker = np.zeros(dim, np.float32)
    marker[0] = 1.0
    out = []
    for d in range(n_docs):
        emb = rng.normal(size=(n, dim)).astype(np.float32) * 0.3
        emb[:, 0] = 0.0
        k = int(rng.integers(0, n - 1))
        emb[k] = marker
        lab = np.zeros(n, np.float32)
        lab[k + 1] = 1.0
        out.append(Sequence(np.zeros((n, len(FEATURES)), np.float32), emb, lab, d))
    return out


def test_training_learns_from_neighbours_and_is_deterministic():
    seqs = _context_task()
    args = SequenceArgs(d_model=16, heads=2, ff=32, epochs=25, lr=5e-3, dropout=0.0, batch_size=16, seed=5)
    scorer, info = fit_sequence_scorer(seqs, args)
    cols = list(range(len(FEATURES)))
    test = _context_task(40)
    hits = [int(np.argmax(scorer.logits(s.feats, s.emb, cols)) == int(np.argmax(s.labels))) for s in test[:40]]
    assert sum(hits) >= 30  # chance is 1 in 8
    again, _ = fit_sequence_scorer(seqs, args)
    for k, v in scorer.net.state_dict().items():
        assert torch.equal(v, again.net.state_dict()[k]), k
    assert info["epoch"] >= 1 and info["val_sequences"] > 0
