"""The calibrated bundle with tiny models: constants travel in the checkpoint, `presslens calibrate` recomputes
them, a summarizer fitted to another head or decision is refused, and one commentary decision serves both the
article-rule calibration and serving."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from presslens.model import commentary
from presslens.model.encoder import ModelLoadError
from presslens.model.pipeline import choose_summarizer
from presslens.model.stance import StanceModel
from presslens.model.summarizer import ExtractiveSummarizer, ScorerConfig
from presslens.training.article_rule import ArticleEvidence, calibrate_article_rule

_SAME = ["Russia said the referendum would go ahead on Sunday.", "Kerry and Lavrov met in London for talks.",
         "The official said the talks were over.", "Crimea will vote in a referendum."]
_OTHER = ["I think the talks were a joke.", "The meeting in London lasted six hours.",
          "Sanctions would be imposed on Russia, officials said.", "Guess it slipped his mind."]


@pytest.fixture
def stance_copy(tiny_stance_dir, tmp_path):
    path = tmp_path / "stance"
    shutil.copytree(tiny_stance_dir, path)
    return path


def _pairs(directory):
    """Same-claim pairs (identical sentences, score 5) and unrelated ones (score 0) in each split."""
    directory.mkdir()
    rows = [f"5.0\t{s}\t{s}" for s in _SAME] + [f"0.5\t{a}\t{b}" for a, b in zip(_SAME, _OTHER, strict=True)]
    for split in ("train", "dev", "test"):
        (directory / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return directory


def test_constants_round_trip_and_old_checkpoints_load_with_defaults(stance_copy, tmp_path):
    model = StanceModel.from_pretrained(stance_copy)
    model.config.link_threshold, model.config.support_threshold = 0.81, 0.52
    model.config.calibration = {"links": {"data": "pairs"}}
    out = model.save_pretrained(tmp_path / "saved")
    back = StanceModel.from_pretrained(out).config
    assert (back.link_threshold, back.support_threshold, back.calibration) == (0.81, 0.52, {"links": {"data": "pairs"}})
    cfg = json.loads((stance_copy / "config.json").read_text())
    for key in ("link_threshold", "support_threshold", "calibration"):
        cfg.pop(key, None)
    (stance_copy / "config.json").write_text(json.dumps(cfg))
    old = StanceModel.from_pretrained(stance_copy).config
    assert (old.link_threshold, old.support_threshold, old.calibration) == (0.7, 0.6, {})
    from presslens.model.card import model_card

    assert "not calibrated" in model_card(old)


def test_calibrate_command_writes_new_constants_into_the_checkpoint(stance_copy, tmp_path, capsys):
    from presslens.api.cli import main

    before = (stance_copy / "head.safetensors").read_bytes()
    assert main(["calibrate", "--model", str(stance_copy), "--links", str(_pairs(tmp_path / "pairs"))]) == 0
    cfg = StanceModel.from_pretrained(stance_copy).config
    assert (cfg.link_threshold, cfg.support_threshold) != (0.7, 0.6)
    links = cfg.calibration["links"]
    assert links["link_threshold"]["value"] == cfg.link_threshold and links["chosen_on"] == "train+dev"
    assert links["link_threshold"]["test"]["recall"] == 1.0  # identical sentences always link
    assert "chosen on" in (stance_copy / "README.md").read_text()
    assert (stance_copy / "head.safetensors").read_bytes() == before
    # bad input: one line, exit 2, checkpoint untouched
    (tmp_path / "bad").mkdir()
    capsys.readouterr()
    assert main(["calibrate", "--model", str(stance_copy), "--links", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fetch_sts_news" in err[0]


def _trained_summarizer(keys: dict, **change) -> ExtractiveSummarizer:
    config = ScorerConfig(training={"data": ["test"]}, encoder_checksum=keys["encoder_checksum"],
                          head_checksum=keys["head_checksum"], decision=dict(keys["decision"]))
    for k, v in change.items():
        setattr(config, k, v)
    return ExtractiveSummarizer(config)


@pytest.mark.parametrize("change, words", [({"head_checksum": "0" * 64}, "stance head"),
                                           ({"decision": {"threshold": 0.99, "voice_rules": True}}, "commentary decision")])
def test_summarizer_fitted_to_another_head_or_decision_is_refused(stance_copy, tmp_path, change, words):
    model = StanceModel.from_pretrained(stance_copy)
    keys = model.fit_keys()
    assert _trained_summarizer(keys).fits(keys)
    summ = _trained_summarizer(keys, **change)
    summ.save_pretrained(tmp_path / "summ")
    with pytest.raises(ModelLoadError, match=words) as info:
        choose_summarizer(keys, summarizer_dir=tmp_path / "summ")
    assert "\n" not in str(info.value)
    summ.save_pretrained(stance_copy / "summarizer")  # the automatic choice falls back to the prior
    choice = choose_summarizer(keys, stance_copy)
    assert choice.path is None and words.split()[-1] in choice.reason
    _trained_summarizer(keys).save_pretrained(stance_copy / "summarizer")
    assert choose_summarizer(keys, stance_copy).path == stance_copy / "summarizer"


def test_head_checksum_follows_the_head(stance_copy):
    from presslens.model.head import head_checksum

    torch_model = StanceModel.from_pretrained(stance_copy)
    assert head_checksum(torch_model.head) == StanceModel.from_pretrained(stance_copy).fit_keys()["head_checksum"]
    import torch

    with torch.no_grad():
        next(torch_model.head.parameters()).add_(0.01)
    assert head_checksum(torch_model.head) != StanceModel.from_pretrained(stance_copy).fit_keys()["head_checksum"]


def test_one_commentary_decision_serves_and_calibrates(stance_copy, monkeypatch):
    model = StanceModel.from_pretrained(stance_copy)
    texts = ["Kerry met Lavrov in London.", "I think the talks were a joke.", "Talks ended on Friday."]
    probs = np.array([0.1, 0.2, 0.1])
    evidence = [ArticleEvidence(probs, np.zeros(3, dtype=bool), texts, True) for _ in range(10)]
    served = [s.commentary for s in model.judge_article(texts, probs).sentences]
    assert served == [False, True, False]  # the writer-voice rule, as served
    t0, rule0, info0 = calibrate_article_rule(evidence, 0.5)
    assert info0["flag_rate"] == pytest.approx(1 / 3, abs=1e-3)  # the calibration sees the voice rule too
    calls = []

    def nobody(texts, probabilities, reported, is_title, *, threshold, voice_rules):
        calls.append(len(texts))
        return np.zeros(len(texts), dtype=bool)

    monkeypatch.setattr(commentary, "commentary_flags", nobody)
    assert not any(s.commentary for s in model.judge_article(texts, probs).sentences)
    t1, rule1, info1 = calibrate_article_rule(evidence, 0.5)
    assert info1["flag_rate"] == 0.0 and t1 == 0.5 and calls
    assert (t1, info1["flag_rate"]) != (t0, info0["flag_rate"])


def test_recalibration_restamps_a_summarizer_fitted_to_the_same_encoder_and_head(stance_copy, tmp_path):
    from presslens.training.calibrate import restamp_summarizer

    model = StanceModel.from_pretrained(stance_copy)
    keys = model.fit_keys()
    _trained_summarizer(keys, decision={"threshold": 0.99, "voice_rules": False}).save_pretrained(tmp_path / "s")
    assert not ExtractiveSummarizer.from_pretrained(tmp_path / "s").fits(keys)
    restamp_summarizer(model, tmp_path / "s", log=lambda m: None)
    assert ExtractiveSummarizer.from_pretrained(tmp_path / "s").fits(keys)
    _trained_summarizer(keys, head_checksum="1" * 64).save_pretrained(tmp_path / "other")
    with pytest.raises(ModelLoadError, match="stance head"):
        restamp_summarizer(model, tmp_path / "other", log=lambda m: None)


def test_a_trained_scorer_records_the_support_cosine_head_and_decision_it_read(tiny_stance_dir):
    """What the summarizer's training records from the stance model beside it: the calibrated support cosine
    its features used, and the head and decision its commentary feature read."""
    from presslens.model.stance import StanceModel
    from presslens.model.summarizer import SUPPORT_THRESHOLD, fit_keys_of, support_cosine

    model = StanceModel.from_pretrained(tiny_stance_dir)
    model.config.support_threshold = 0.77
    keys = fit_keys_of(model.proba_from_embeddings)
    assert support_cosine(model.proba_from_embeddings) == keys["support_threshold"] == 0.77
    assert keys["head_checksum"] == model.fit_keys()["head_checksum"]
    assert keys["decision"] == model.fit_keys()["decision"]
    assert fit_keys_of(None) == {} and support_cosine(None) == SUPPORT_THRESHOLD  # a bare encoder
