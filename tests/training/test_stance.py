"""Training the stance model on a user's CSV, end to end with the tiny encoder, and the failure paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from presslens.model.stance import StanceModel
from presslens.training.data import DataError
from presslens.training.stance import (
    ArticleEvidence,
    TrainStanceArgs,
    best_threshold,
    calibrate_article_rule,
    macro_f1,
    train_stance,
)

_NEUTRAL = [
    "The meeting in London lasted six hours.", "Russia said the referendum would go ahead on Sunday.",
    "The foreign minister met the state official.", "Talks were held at the London meeting.",
    "Sanctions would be imposed on Russia, officials said.", "Crimea will vote in a referendum.",
    "Kerry and Lavrov met in London for talks.", "The minister said the state would act.",
    "Ukraine said Russian troops were at the border.", "The official said the talks were over.",
    "The referendum in Crimea is on Sunday.", "The meeting was held at the state department.",
    "Lavrov said Russia would respect the vote.", "The talks in London ended on Friday.",
    "Officials from Russia and Ukraine were at the meeting.", "The state minister said sanctions were likely.",
    "Crimea is in Ukraine.", "Kerry said the talks were useful.", "Russia held the meeting.",
    "The London talks were on Crimea.",
]
_EDITORIAL = [
    "I think the talks were a joke.", "No doubt they will fail, do you think?",
    "Guess it slipped his mind.", "I think they will not do it.", "What a farce: no doubt about it.",
    "I guess the minister is not that clever?", "Do you think they said a thing?",
    "No doubt the official is a fool.", "I think Russia will do what it wants.", "Guess what: it is not over.",
    "I think this was a farce.", "No doubt, I think, the talks are dead.", "Do you think I guess?",
    "I guess no doubt it was a show.", "Think what they will do?", "I think it is a doubt.",
    "Guess I think no doubt.", "What do you think of it?", "I guess not.", "No doubt, no doubt.",
]


def _write_csv(path, rows):
    lines = ["text,label"] + [f'"{t}",{lbl}' for t, lbl in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def user_csv(tmp_path):
    rows = [(t, "neutral") for t in _NEUTRAL] + [(t, "editorial") for t in _EDITORIAL]
    return _write_csv(tmp_path / "mine.csv", rows)


def test_user_csv_retrains_and_serves_end_to_end(user_csv, tiny_encoder_dir, tmp_path, capsys):
    from presslens.model.pipeline import Analyzer

    out = tmp_path / "ckpt"
    metrics = train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(out),
                                           encoder=str(tiny_encoder_dir), mode="fast", epochs=60),
                           log=lambda m: None)
    cfg = json.loads((out / "config.json").read_text())
    # The reported dev score is the saved checkpoint's own on the held-out sentences, at its saved threshold.
    from presslens.training.data import load_sentences
    from presslens.training.selection import split_dev

    _, dev = split_dev(load_sentences(str(user_csv)), 0.2, 13)
    p = StanceModel.from_pretrained(out).predict_proba(dev.texts)[:, 1]
    assert metrics["dev"]["macro_f1"] == round(macro_f1(np.array(dev.y), (p >= cfg["threshold"]).astype(int)), 4)
    assert cfg["id2label"] == {"0": "neutral", "1": "editorial"}
    assert cfg["training"]["n_train"] == 32 and metrics["dev"]["n"] == 8  # 20% held out, stratified
    assert "mine.csv" in (out / "README.md").read_text()
    assert not list(out.glob("*.bin"))
    analyzer = Analyzer.load(out)
    article = tmp_path / "article.txt"
    article.write_text("Talks in London ended\nThe meeting lasted six hours. I think the talks were a joke. "
                       "Kerry said talks were useful.\n", encoding="utf-8")
    # served through the same front door a user runs: presslens analyze --model DIR
    from presslens.api.cli import main

    rc = main(["analyze", str(article), "--model", str(out), "--format", "json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["label"] in ("neutral", "editorial")
    assert [s["text"] for s in result["sentences"]][1] == "The meeting lasted six hours."
    direct = analyzer.stance.predict_proba(["The meeting lasted six hours."])[0, 1]
    assert result["sentences"][1]["probability"] == pytest.approx(float(direct), abs=1e-4)


def test_bad_row_fails_with_row_number_and_leaves_no_checkpoint(tiny_encoder_dir, tmp_path):
    rows = [(t, "neutral") for t in _NEUTRAL[:10]] + [(t, "editorial") for t in _EDITORIAL[:10]]
    rows[6] = (rows[6][0], "sort-of")
    bad = _write_csv(tmp_path / "bad.csv", rows)
    out = tmp_path / "ckpt"
    with pytest.raises(DataError, match=r"bad\.csv: row 7: unknown label 'sort-of'"):
        train_stance(TrainStanceArgs(data=[str(bad)], out=str(out), encoder=str(tiny_encoder_dir)),
                     log=lambda m: None)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ckpt")]


def test_cli_bad_row_exit_code_2(tiny_encoder_dir, tmp_path, capsys):
    from presslens.api.cli import main

    bad = _write_csv(tmp_path / "bad.csv", [("Fine.", "neutral"), ("Also fine.", "editorial"), ("", "neutral")])
    out = tmp_path / "ckpt"
    rc = main(["train", "stance", "--data", str(bad), "--out", str(out), "--encoder", str(tiny_encoder_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "presslens: error:" in err and "row 3" in err and "bad.csv" in err
    assert not out.exists()


def test_one_label_only_is_refused(tiny_encoder_dir, tmp_path):
    only = _write_csv(tmp_path / "one.csv", [(t, "neutral") for t in _NEUTRAL[:5]])
    with pytest.raises(DataError, match="both labels"):
        train_stance(TrainStanceArgs(data=[str(only)], out=str(tmp_path / "x"), encoder=str(tiny_encoder_dir)),
                     log=lambda m: None)


def test_dev_and_held_out_sentences_are_removed_from_training(user_csv, tiny_encoder_dir, tmp_path):
    held = _write_csv(tmp_path / "held.csv", [(_NEUTRAL[0].upper(), "neutral"), (_EDITORIAL[0], "editorial")])
    out = tmp_path / "ckpt"
    metrics = train_stance(TrainStanceArgs(data=[str(user_csv)], exclude=[str(held)], out=str(out),
                                           encoder=str(tiny_encoder_dir), epochs=20, dev_fraction=0),
                           log=lambda m: None)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["n_train"] == 38
    assert cfg["training"]["dropped_duplicates"] == 2
    assert metrics["held.csv"]["n"] == 2


@pytest.mark.parametrize("mode", ["partial", "adapter"])
def test_finetune_modes_round_trip(mode, user_csv, tiny_encoder_dir, tmp_path):
    out = tmp_path / mode
    train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(out), mode=mode,
                                 encoder=str(tiny_encoder_dir), epochs=1, train_layers=1, lora_r=4),
                 log=lambda m: None)
    names = {p.name for p in out.iterdir()}
    assert ("encoder_layers.safetensors" in names) if mode == "partial" else ("adapter" in names)
    assert "encoder" not in names  # only the trained delta is saved, never a full copy of the encoder
    texts = ["The meeting lasted six hours.", "I think the talks were a joke."]
    loaded = StanceModel.from_pretrained(out)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["mode"] == mode
    base = StanceModel.from_pretrained(out)  # loading twice gives the same model
    np.testing.assert_allclose(loaded.predict_proba(texts), base.predict_proba(texts), atol=1e-6)
    assert cfg["training"]["curve"][0]["epoch"] == 0  # the linear probe before fine-tuning


def test_partial_mode_saved_model_equals_trained_model(user_csv, tiny_encoder_dir, tmp_path):
    out = tmp_path / "p"
    dev_csv = _write_csv(tmp_path / "dev.csv", [("The talks in London were long.", "neutral"),
                                                 ("I think it was a show.", "editorial"),
                                                 ("Russia said no.", "neutral"), ("What a joke, no doubt.", "editorial")])
    metrics = train_stance(TrainStanceArgs(data=[str(user_csv)], dev=[str(dev_csv)], out=str(out),
                                           mode="partial", encoder=str(tiny_encoder_dir), epochs=2,
                                           train_layers=1), log=lambda m: None)
    loaded = StanceModel.from_pretrained(out)
    from presslens.training.data import load_sentences

    dev = load_sentences(str(dev_csv))
    p = loaded.predict_proba(dev.texts)[:, 1]
    f1 = macro_f1(np.array(dev.y), (p >= loaded.config.threshold).astype(int))
    assert f1 == pytest.approx(metrics["dev"]["macro_f1"], abs=1e-4)


def test_a_second_stage_starts_from_the_first_and_saves_every_layer_either_changed(user_csv, tiny_encoder_dir,
                                                                                   tmp_path):
    """--init: intermediate-task training. The first stage tunes two layers, the second only the top one; the
    saved delta must still hold both, so the checkpoint reproduces the model the second stage ended with."""
    first, second = tmp_path / "first", tmp_path / "second"
    train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(first), mode="partial", encoder=str(tiny_encoder_dir),
                                 epochs=1, train_layers=2, lr=1e-3), log=lambda m: None)
    train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(second), mode="partial", init=str(first),
                                 encoder=str(tiny_encoder_dir), epochs=1, train_layers=1, lr=1e-3),
                 log=lambda m: None)
    a, b = StanceModel.from_pretrained(first), StanceModel.from_pretrained(second)
    assert b.config.train_layers == 2
    sa, sb = a.encoder.model.state_dict(), b.encoder.model.state_dict()
    n = len(a.encoder.model.encoder.layer)
    lower = [k for k in sa if k.startswith(f"encoder.layer.{n - 2}.")]
    top = [k for k in sa if k.startswith(f"encoder.layer.{n - 1}.")]
    base = StanceModel.new(str(tiny_encoder_dir)).encoder.model.state_dict()
    assert lower and all(torch.equal(sa[k], sb[k]) for k in lower)  # the first stage's layer, kept ...
    assert any(not torch.equal(base[k], sb[k]) for k in lower)  # ... and it is not the base encoder's
    assert any(not torch.equal(base[k], sb[k]) for k in top)
    assert any("first stage" in d for d in b.config.training["data"])


def test_init_refuses_a_checkpoint_it_cannot_continue(user_csv, tiny_encoder_dir, tmp_path, capsys):
    from presslens.api.cli import main

    fast = tmp_path / "fast"
    train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(fast), encoder=str(tiny_encoder_dir), epochs=5),
                 log=lambda m: None)
    capsys.readouterr()
    rc = main(["train", "stance", "--data", str(user_csv), "--init", str(fast), "--mode", "partial",
               "--encoder", str(tiny_encoder_dir), "--out", str(tmp_path / "x")])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2 and last.startswith("presslens: error: --init") and "cannot start a 'partial' run" in last
    assert not (tmp_path / "x").exists()


def test_best_threshold_and_macro_f1():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.65, 0.7, 0.9])
    t, f = best_threshold(y, p)
    assert f == 1.0 and 0.65 < t <= 0.7
    assert macro_f1(y, np.array([0, 0, 0, 0, 0])) == pytest.approx(0.5 * (2 * 3 / (2 * 3 + 2)))


def test_threshold_for_the_training_label_balance():
    """A dev split richer in editorial sentences than training pulls the plain threshold down; weighting
    dev to the training share of editorial sentences undoes that."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(500), np.ones(500)].astype(int)  # dev: half editorial
    p = np.clip(np.r_[rng.normal(0.35, 0.15, 500), rng.normal(0.65, 0.15, 500)], 0, 1)
    plain, _ = best_threshold(y, p)
    skewed, _ = best_threshold(y, p, prior=0.2)  # training: one editorial sentence in five
    assert skewed > plain + 0.03
    # weighting to dev's own share changes nothing
    assert best_threshold(y, p, prior=0.5) == best_threshold(y, p)


def test_calibration_is_a_false_editorial_budget():
    rng = np.random.default_rng(0)
    # 100 straight reports: mostly low probabilities, a few stray high ones; quotes are reported speech
    ev = []
    for i in range(100):
        p = rng.uniform(0, 0.5, 20)
        p[: i % 4] = 0.95  # up to three stray high sentences
        ev.append(ArticleEvidence(p, np.zeros(20, dtype=bool)))
    t, rule, info = calibrate_article_rule(ev, 0.5, max_fer=0.02, max_flag_rate=0.2)
    assert info["false_editorial_rate"] <= 0.02
    counts = [int((e.probabilities >= t).sum()) for e in ev]
    labels = [rule.probability(n, 20) >= 0.5 for n in counts]
    assert np.mean(labels) <= 0.02
    # an article with a third of its sentences commentary is still editorial under the calibrated rule
    assert rule.probability(7, 20) >= 0.5
    # reported sentences never count, however high their probability
    quoted = ArticleEvidence(np.full(20, 0.99), np.ones(20, dtype=bool))
    _, _, info2 = calibrate_article_rule([quoted] * 10, 0.5)
    assert info2["false_editorial_rate"] == 0.0


def test_the_anchor_keeps_the_embedding_space_of_the_starting_encoder(user_csv, tiny_encoder_dir, tmp_path):
    """--anchor-weight: the same training with a strong anchor ends with sentence embeddings closer to the
    starting encoder's than without it (what claim links and summaries read)."""
    texts = _NEUTRAL[:6] + _EDITORIAL[:6]
    start = StanceModel.new(str(tiny_encoder_dir)).encoder.encode(texts)

    def drift(weight: float) -> float:
        out = tmp_path / f"anchor-{weight}"
        train_stance(TrainStanceArgs(data=[str(user_csv)], out=str(out), mode="partial", lr=5e-3,
                                     encoder=str(tiny_encoder_dir), epochs=3, train_layers=2,
                                     anchor_weight=weight), log=lambda m: None)
        emb = StanceModel.from_pretrained(out).encoder.encode(texts)
        return float(np.mean(1.0 - (emb * start).sum(axis=1)))

    free, anchored = drift(0.0), drift(50.0)
    assert free > 0  # training moved the space
    assert anchored < free / 2


def test_the_anchor_needs_partial_mode(user_csv):
    with pytest.raises(DataError, match="--anchor-weight"):
        TrainStanceArgs(data=[str(user_csv)], out="x", mode="full", anchor_weight=1.0)
