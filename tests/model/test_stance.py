"""The stance model: save/load round trips (fast, partial, adapter), unsafe checkpoints, the article rule."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from presslens.model.encoder import ModelLoadError
from presslens.model.stance import ArticleRule, StanceModel, partial_state

TEXTS = ["The meeting lasted six hours.", "I think the talks were a joke.", "Guess it slipped his mind."]


def test_fast_round_trip(tiny_stance_dir):
    a = StanceModel.from_pretrained(tiny_stance_dir)
    b = StanceModel.from_pretrained(tiny_stance_dir)
    np.testing.assert_allclose(a.predict_proba(TEXTS), b.predict_proba(TEXTS), atol=1e-7)
    assert set(a.predict(TEXTS)) <= {"neutral", "editorial"}
    p = a.predict_proba(TEXTS)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)


def test_partial_round_trip_applies_the_saved_layers(tiny_encoder_dir, tmp_path):
    model = StanceModel.new(str(tiny_encoder_dir), mode="partial")
    model.config.train_layers = 1
    base = model.encoder.encode(TEXTS)
    with torch.no_grad():  # stand-in for fine-tuning: move the top layer's weights
        for name, p in model.encoder.model.named_parameters():
            if name.startswith("encoder.layer.1."):
                p.add_(0.05 * torch.randn_like(p))
    from presslens.model.stance import round_to_half

    round_to_half(model.encoder.model, 1)
    tuned = model.encoder.encode(TEXTS)
    assert np.abs(tuned - base).max() > 1e-3
    out = model.save_pretrained(tmp_path / "partial")
    assert (out / "encoder_layers.safetensors").is_file() and not (out / "encoder").exists()
    saved = partial_state(model.encoder.model, 1)
    assert saved and all(k.startswith("encoder.layer.1.") for k in saved)
    assert all(t.dtype == torch.float16 for t in saved.values())
    loaded = StanceModel.from_pretrained(out)
    np.testing.assert_allclose(loaded.encoder.encode(TEXTS), tuned, atol=1e-5)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-5)


def test_partial_checkpoint_with_wrong_layers_is_refused(tiny_encoder_dir, tmp_path):
    model = StanceModel.new(str(tiny_encoder_dir), mode="partial")
    model.config.train_layers = 1
    out = model.save_pretrained(tmp_path / "partial")
    cfg = json.loads((out / "config.json").read_text())
    cfg["train_layers"] = 2
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="top 2 layers"):
        StanceModel.from_pretrained(out)


def test_adapter_round_trip(tiny_encoder_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    model = StanceModel.new(str(tiny_encoder_dir), mode="adapter")
    model.encoder.model = get_peft_model(model.encoder.model, LoraConfig(r=4, target_modules=["query", "value"]))
    with torch.no_grad():  # LoRA's B starts at zero; give it weights so the adapter changes the output
        for name, p in model.encoder.model.named_parameters():
            if "lora_B" in name:
                p.add_(0.1 * torch.randn_like(p))
    expected = model.predict_proba(TEXTS)
    out = model.save_pretrained(tmp_path / "adapter")
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    loaded = StanceModel.from_pretrained(out)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), expected, atol=1e-5)
    plain = StanceModel.new(str(tiny_encoder_dir))
    assert np.abs(loaded.encoder.encode(TEXTS) - plain.encoder.encode(TEXTS)).max() > 1e-4


@pytest.mark.parametrize("name", ["pytorch_model.bin", "head.pkl", "sub/opt.pt"])
def test_pickle_files_are_refused(tiny_stance_dir, tmp_path, name):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_stance_dir, ckpt)
    (ckpt / name).parent.mkdir(parents=True, exist_ok=True)
    (ckpt / name).write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ModelLoadError, match="pickle"):
        StanceModel.from_pretrained(ckpt)


def test_bad_configs_are_refused(tiny_stance_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_stance_dir, ckpt)
    cfg = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**cfg, "id2label": {"0": "editorial", "1": "neutral"}}))
    with pytest.raises(ModelLoadError, match="id2label"):
        StanceModel.from_pretrained(ckpt)
    (ckpt / "config.json").write_text(json.dumps({**cfg, "mode": "magic"}))
    with pytest.raises(ModelLoadError, match="mode"):
        StanceModel.from_pretrained(ckpt)
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="JSON"):
        StanceModel.from_pretrained(ckpt)


def test_a_failed_save_keeps_the_old_checkpoint(tiny_encoder_dir, tmp_path, monkeypatch):
    model = StanceModel.new(str(tiny_encoder_dir))
    out = model.save_pretrained(tmp_path / "ckpt")
    before = (out / "head.safetensors").read_bytes()
    import presslens.model.stance as ms

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ms, "save_file", boom)
    with torch.no_grad():
        model.head[0].weight.add_(1.0)
    with pytest.raises(OSError):
        model.save_pretrained(out)
    assert (out / "head.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def _model_with_probs(tiny_stance_dir):
    return StanceModel.from_pretrained(tiny_stance_dir)


def test_quoted_opinion_is_reporting_not_commentary(tiny_stance_dir):
    model = _model_with_probs(tiny_stance_dir)
    texts = ['"It can get ugly fast," Kerry warned.', "Guess it sort of slipped his mind.",
             "The talks lasted six hours."]
    res = model.judge_article(texts, np.array([0.99, 0.99, 0.1]))
    assert [s.commentary for s in res.sentences] == [False, True, False]
    assert res.sentences[0].reported and res.sentences[0].speaker == "Kerry"
    assert res.evidence == [1]


def test_article_rule_one_stray_sentence_is_not_an_editorial(tiny_stance_dir):
    model = _model_with_probs(tiny_stance_dir)
    model.config.article_rule = ArticleRule(min_share=0.1, min_count=2)
    texts = [f"The officials met on day {i}." for i in range(10)]
    probs = np.full(10, 0.05)
    probs[3] = 0.99
    assert model.judge_article(texts, probs).label == "neutral"
    probs[[1, 5, 7]] = 0.99
    res = model.judge_article(texts, probs)
    assert res.label == "editorial" and res.evidence == [1, 3, 5, 7]
    assert 0.5 <= res.confidence <= 1.0


def test_titles_never_count_and_article_threshold_is_used(tiny_stance_dir):
    model = _model_with_probs(tiny_stance_dir)
    model.config.threshold, model.config.commentary_threshold = 0.5, 0.8
    texts = ["A shocking disgrace", "Talks failed.", "What a farce this was."]
    res = model.judge_article(texts, np.array([0.99, 0.7, 0.9]), [True, False, False])
    assert [s.commentary for s in res.sentences] == [False, False, True]
