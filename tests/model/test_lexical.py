"""The lexical branch: fitted n-gram weights, the dev-chosen gate, saved and loaded with the stance model."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.model.encoder import ModelLoadError
from presslens.model.lexical import LexicalBranch, ngrams

OPINION = ["What a disgrace this is, frankly.", "This shameful decision must be reversed.",
           "Sadly, the plan is a disaster.", "It is an outrageous and shameful move.",
           "Frankly, nobody should accept this disgrace."]
REPORT = ["The ministry said on Monday that talks would resume.", "The company reported a profit of $3 million.",
          "Police said two people were arrested on Tuesday.", "The vote is scheduled for next week.",
          "Officials said the bridge reopened on Monday."]


@pytest.fixture(scope="module")
def branch() -> LexicalBranch:
    return LexicalBranch.fit(OPINION + REPORT, [1] * 5 + [0] * 5, c=10.0, min_df=1)


def test_ngrams_are_lowercased_words_and_bigrams():
    assert ngrams("Frankly, a Disgrace!") == ["frankly", "a", "disgrace", "!", "frankly a", "a disgrace", "disgrace !"]


def test_branch_scores_opinion_above_reporting(branch):
    z = branch.logits(["Frankly, a shameful disgrace.", "Officials said the talks resume on Monday."])
    assert z[0] > 0 > z[1]
    assert branch.logits([]).shape == (0,)
    assert branch.logits(["zzz qqq"])[0] == pytest.approx(branch.intercept)  # no known n-gram: the bias alone


def test_gate_zero_leaves_the_encoder_alone_and_a_gate_moves_it(branch):
    p = np.array([0.5, 0.5])
    texts = ["Frankly, a shameful disgrace.", "Officials said the talks resume on Monday."]
    assert branch.mix(p, texts, 0.0) == pytest.approx(p)
    mixed = branch.mix(p, texts, 0.5)
    assert mixed[0] > 0.5 > mixed[1]


def test_stance_model_saves_and_loads_its_branch(branch, tiny_encoder_dir, tmp_path):
    from presslens.model.stance import StanceModel

    model = StanceModel.new(str(tiny_encoder_dir))
    model.lexical = branch
    branch.weight = 0.4
    saved = model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in saved.iterdir() if p.name.startswith("lexical")) == ["lexical.json",
                                                                                     "lexical.safetensors"]
    again = StanceModel.from_pretrained(saved)
    assert again.lexical is not None and again.lexical.weight == pytest.approx(0.4)
    texts = OPINION[:2] + REPORT[:2]
    assert again.predict_proba(texts) == pytest.approx(model.predict_proba(texts), abs=1e-6)
    encoder_only = StanceModel.from_pretrained(saved)
    encoder_only.lexical = None
    assert not np.allclose(encoder_only.predict_proba(texts), again.predict_proba(texts))
    # embeddings alone (the summarizer's commentary feature): the encoder's probability, the branch left out
    emb = again.encoder.encode(texts)
    assert again.proba_from_embeddings(emb) == pytest.approx(encoder_only.predict_proba(texts)[:, 1], abs=1e-6)
    (saved / "lexical.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="lexical"):
        StanceModel.from_pretrained(saved)
