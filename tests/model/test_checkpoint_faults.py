"""Checkpoints that are corrupt, truncated or pickled are refused; an interrupted write keeps the old one."""

from __future__ import annotations

import json
import shutil

import pytest
from presslens.model.encoder import ModelLoadError
from presslens.model.io import atomic_dir
from presslens.model.stance import StanceModel


@pytest.fixture()
def checkpoint(tiny_stance_dir, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny_stance_dir, dst)
    return dst


def test_good_checkpoint_loads(checkpoint):
    model = StanceModel.from_pretrained(checkpoint)
    assert model.predict(["Kerry met Lavrov."])[0] in ("neutral", "editorial")


def test_truncated_weights_are_refused(checkpoint):
    head = checkpoint / "head.safetensors"
    head.write_bytes(head.read_bytes()[: len(head.read_bytes()) // 2])
    with pytest.raises(ModelLoadError, match="not a readable safetensors file"):
        StanceModel.from_pretrained(checkpoint)


def test_garbage_weights_are_refused(checkpoint):
    (checkpoint / "head.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError):
        StanceModel.from_pretrained(checkpoint)


def test_pickle_is_refused_even_beside_safetensors(checkpoint):
    (checkpoint / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelLoadError, match="pickle"):
        StanceModel.from_pretrained(checkpoint)


@pytest.mark.parametrize(
    "mutate, message",
    [(lambda c: c.update(format="something-else"), "not a presslens stance config"),
     (lambda c: c.update(id2label={"0": "editorial", "1": "neutral"}), "id2label"),
     (lambda c: c.update(mode="magic"), "unknown stance mode"),
     (lambda c: c.update(dim=999), "does not match")],
)
def test_unexpected_config_is_refused(checkpoint, mutate, message):
    cfg = json.loads((checkpoint / "config.json").read_text())
    mutate(cfg)
    (checkpoint / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=message):
        StanceModel.from_pretrained(checkpoint)


def test_invalid_json_config(checkpoint):
    (checkpoint / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        StanceModel.from_pretrained(checkpoint)


def test_interrupted_write_keeps_previous_checkpoint(checkpoint, monkeypatch):
    before = {p.name: p.read_bytes() for p in checkpoint.iterdir()}
    model = StanceModel.from_pretrained(checkpoint)
    model.config.threshold = 0.9

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write

    monkeypatch.setattr("presslens.model.stance.model_card", boom)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(checkpoint)
    assert {p.name: p.read_bytes() for p in checkpoint.iterdir()} == before
    assert [p.name for p in checkpoint.parent.iterdir()] == ["ckpt"]  # no temporary directory left behind


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("two")
        raise RuntimeError("disk full")
    assert (target / "a.txt").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
