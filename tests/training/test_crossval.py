"""Cross-validation of the fine-tuning recipe on the tiny encoder: folds, the per-epoch table, the final model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from presslens.model.runtime.cpu import training_precision
from presslens.model.stance import StanceModel
from presslens.training.crossval import score_epochs, stratified_folds
from presslens.training.data import DataError
from presslens.training.stance import TrainStanceArgs, train_stance

from .test_stance import _EDITORIAL, _NEUTRAL, _write_csv


def test_folds_partition_the_data_and_keep_the_label_share():
    y = np.array([1] * 12 + [0] * 28)
    folds = stratified_folds(y, 4, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))  # every sentence held out exactly once
    assert [int(y[f].sum()) for f in folds] == [3, 3, 3, 3]


def test_score_epochs_picks_the_threshold_for_the_target_share():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    oof = np.array([[0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1],    # epoch 1: one neutral at 0.7
                    [0.9, 0.8, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]])   # epoch 2: separable at 0.5
    folds = [np.arange(0, 8, 2), np.arange(1, 8, 2)]
    rows = score_epochs(y, oof, folds, prior=0.25)
    assert rows[1]["macro_f1_at_0.5"] == 1.0
    assert rows[0]["macro_f1_at_0.5"] < 1.0
    assert rows[0]["threshold"] > 0.7  # epoch 1 needs a threshold above the stray neutral at 0.7
    assert rows[0]["macro_f1"] == 1.0


def test_cv_chooses_epoch_and_threshold_then_trains_on_everything(tiny_encoder_dir, tmp_path):
    rows = [(t, "neutral") for t in _NEUTRAL] + [(t, "editorial") for t in _EDITORIAL]
    data = _write_csv(tmp_path / "all.csv", rows)
    out = tmp_path / "ckpt"
    logs: list[str] = []
    metrics = train_stance(TrainStanceArgs(data=[str(data)], out=str(out), mode="full", encoder=str(tiny_encoder_dir),
                                           epochs=2, cv=3, lr=1e-3, threshold_prior="0.3"), log=logs.append)
    cv = metrics["cv"]
    assert cv["folds"] == 3 and [r["epoch"] for r in cv["table"]] == [1, 2]
    assert cv["epoch"] in (1, 2)
    chosen = cv["table"][cv["epoch"] - 1]
    assert chosen["macro_f1_at_prior"] == max(r["macro_f1_at_prior"] for r in cv["table"])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["threshold"] == cv["threshold"]
    assert cfg["training"]["n_train"] == 40  # no dev split was held out: every sentence trained the final model
    assert cfg["training"]["best_epoch"] == cv["epoch"]
    assert cfg["training"]["precision"] == training_precision("auto")
    oof = json.loads((out / "cv_oof.json").read_text())
    assert len(oof["epoch_proba"]) == 2 and len(oof["epoch_proba"][0]) == 40 == len(oof["labels"])
    p = np.array(oof["epoch_proba"][0])
    assert ((p > 0) & (p < 1)).all()  # every sentence got an out-of-fold probability
    assert any("cv chose epoch" in m for m in logs)
    StanceModel.from_pretrained(out).predict(["The talks lasted six hours."])  # the checkpoint loads and predicts


@pytest.mark.parametrize("kw", [{"cv": 1}, {"cv": 3, "dev": ["x.csv"]}, {"cv": 3, "mode": "fast"},
                                {"threshold_prior": "1.5"}, {"threshold_prior": "most"}])
def test_cv_and_prior_options_are_checked(kw, tmp_path):
    with pytest.raises(DataError):
        TrainStanceArgs(data=["x.csv"], out=str(tmp_path / "o"), mode=kw.pop("mode", "full"), **kw)


def test_training_precision_follows_the_cpu_flags():
    assert training_precision("auto", frozenset({"avx2", "avx512_bf16"})) == "bf16"
    assert training_precision("auto", frozenset({"avx2", "amx_bf16"})) == "bf16"
    assert training_precision("auto", frozenset({"avx2", "avx512_vnni"})) == "fp32"
    assert training_precision("fp32", frozenset({"amx_bf16"})) == "fp32"
    with pytest.raises(ValueError):
        training_precision("fp16")


def test_stacking_chooses_groups_by_cv_and_the_model_serves_them(tiny_encoder_dir, tmp_path):
    from presslens.training.stacking import StackArgs, stack

    rows = [(t, "neutral") for t in _NEUTRAL] + [(t, "editorial") for t in _EDITORIAL]
    data = _write_csv(tmp_path / "all.csv", rows)
    out = tmp_path / "ckpt"
    train_stance(TrainStanceArgs(data=[str(data)], out=str(out), mode="full", encoder=str(tiny_encoder_dir),
                                 epochs=1, cv=3, lr=1e-4, threshold_prior="0.4"), log=lambda m: None)
    report = stack(StackArgs(model=str(out), folds=3, min_gain=0.0), log=lambda m: None)
    assert set(report["gain_alone"]) == {"subjectivity", "polarity", "vader", "voice", "hedges"}
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["metrics"]["stacking"]["groups"] == report["groups"]
    loaded = StanceModel.from_pretrained(out)
    assert (loaded.stacker is not None) == bool(report["groups"])
    if report["groups"]:
        assert cfg["threshold"] == report["threshold"]
        # the tiny encoder is random: the words carry the signal, and the served model now reads them
        p = loaded.predict_proba(["I think it is a farce, no doubt?", "The talks in London ended on Friday."])[:, 1]
        assert p[0] > p[1]
    assert (out / "cv_oof.json").is_file()  # kept for a later re-run


def test_voice_rule_switch_is_recorded_and_obeyed(tiny_encoder_dir, tmp_path):
    rows = [(t, "neutral") for t in _NEUTRAL] + [(t, "editorial") for t in _EDITORIAL]
    data = _write_csv(tmp_path / "all.csv", rows)
    out = tmp_path / "ckpt"
    train_stance(TrainStanceArgs(data=[str(data)], out=str(out), mode="fast", encoder=str(tiny_encoder_dir),
                                 epochs=10, voice_rules=False), log=lambda m: None)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["voice_rules"] is False
    assert "writer-voice rule (`model/voice.py`): off" in (out / "README.md").read_text()
    model = StanceModel.from_pretrained(out)
    texts = ["I guess the talks were pointless, do you think?"]
    low = np.array([0.0])  # the classifier says reporting; only the rule could mark it
    assert not model.judge_article(texts, low).sentences[0].commentary
    model.config.voice_rules = True
    assert model.judge_article(texts, low).sentences[0].commentary
