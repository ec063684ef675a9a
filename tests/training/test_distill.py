"""Distillation on a tiny random teacher and student: cached teacher outputs, soft labels that steer the student."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from presslens.training.distill import teacher_key, teacher_outputs
from presslens.training.pool import Pool, build_pool

POOL = [f"The council said item {w} would be discussed on Monday." for w in "abcdefghij"] + \
       [f"I think plan {w} is a disgrace, frankly." for w in "abcdefghij"]


def _teacher(tiny_encoder_dir, out, bias: float):
    """A tiny stance model whose head says ``sigmoid(bias)`` for every sentence."""
    from presslens.model.stance import StanceModel

    model = StanceModel.new(str(tiny_encoder_dir))
    with torch.no_grad():
        model.head[0].weight.zero_()
        model.head[0].bias.fill_(bias)
    return model.save_pretrained(out)


def _gold(path, n=6):
    rows = ["text,label"] + [f"Officials said road {i} reopened.,neutral" for i in range(n)] + \
           [f"What a shameful mess road {i} is.,editorial" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_teacher_outputs_are_cached_by_teacher_and_pool(tiny_encoder_dir, tmp_path):
    from presslens.model.stance import StanceModel

    t1 = _teacher(tiny_encoder_dir, tmp_path / "t1", 2.0)
    t2 = _teacher(tiny_encoder_dir, tmp_path / "t2", -2.0)
    cache = tmp_path / "cache"
    p, computed = teacher_outputs(StanceModel.from_pretrained(t1), teacher_key(t1), POOL, cache, log=lambda m: None, chunk=8)
    assert computed == 3 and p == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-5)
    again, computed = teacher_outputs(StanceModel.from_pretrained(t1), teacher_key(t1), POOL, cache, log=lambda m: None, chunk=8)
    assert computed == 0 and np.array_equal(again, p)
    grown, computed = teacher_outputs(StanceModel.from_pretrained(t1), teacher_key(t1), POOL + ["One more sentence here."],
                                      cache, log=lambda m: None, chunk=8)
    assert computed == 1  # only the last chunk changed
    assert teacher_key(t1) != teacher_key(t2)
    other, computed = teacher_outputs(StanceModel.from_pretrained(t2), teacher_key(t2), POOL, cache, log=lambda m: None, chunk=8)
    assert computed == 3 and other == pytest.approx(1 / (1 + np.exp(2.0)), abs=1e-5)


@pytest.mark.parametrize("bias", [4.0, -4.0])
def test_student_follows_the_teacher_soft_labels(tiny_encoder_dir, tmp_path, bias):
    from presslens.model.stance import StanceModel
    from presslens.training.stance import TrainStanceArgs, train_stance

    teacher = _teacher(tiny_encoder_dir, tmp_path / "teacher", bias)
    pool = Pool(POOL * 4, ["test"] * len(POOL) * 4)
    pool.save(tmp_path / "pool.jsonl")
    # no dev data: the last epoch is kept, so the check is on what the soft labels did
    args = TrainStanceArgs(data=[_gold(tmp_path / "gold.csv")], dev=[], dev_fraction=0.0,
                           encoder=str(tiny_encoder_dir), mode="partial", train_layers=2, epochs=3, lr=3e-3,
                           head_lr=3e-2, teacher=str(teacher), pool=str(tmp_path / "pool.jsonl"), gold_weight=0.0,
                           teacher_cache=str(tmp_path / "cache"), out=str(tmp_path / "student"))
    train_stance(args, log=lambda m: None)
    student = StanceModel.from_pretrained(tmp_path / "student")
    mean = float(student.predict_proba(POOL)[:, 1].mean())
    assert (mean > 0.7) if bias > 0 else (mean < 0.3)
    record = json.loads((tmp_path / "student" / "config.json").read_text())["training"]["distillation"]
    assert record["pool_sha256"] == pool.sha256 and record["teacher_sha256"] == teacher_key(teacher)
    assert record["pool_sentences"] == len(pool.texts)


def test_pool_leaves_out_excluded_sentences_and_is_seeded(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("text,label\n" + "".join(f"Sentence number {i} is here for the pool.,neutral\n" for i in range(30)))
    ex = tmp_path / "ex.csv"
    ex.write_text("text,label\nSentence number 3 is here for the pool.,neutral\n")
    a = build_pool([f"sentences:{src}"], [str(ex)], size=10, seed=1)
    b = build_pool([f"sentences:{src}"], [str(ex)], size=10, seed=1)
    assert a.texts == b.texts and len(a.texts) == 10
    full = build_pool([f"sentences:{src}"], [str(ex)], size=100)
    assert len(full.texts) == 29 and "Sentence number 3 is here for the pool." not in full.texts


def test_train_pool_command_writes_a_pool_and_labels_it_into_the_cache(tiny_stance_dir, tmp_path, capsys):
    from presslens.api.cli import main

    src = tmp_path / "s.csv"
    src.write_text("text,label\n" + "".join(f"The council met for the {i}th time on Monday.,neutral\n" for i in range(12)))
    out, cache = tmp_path / "pool.jsonl", tmp_path / "cache"
    assert main(["train", "pool", "--source", f"sentences:{src}", "--size", "8", "--out", str(out),
                 "--label-with", str(tiny_stance_dir), "--teacher-cache", str(cache)]) == 0
    pool = Pool.load(out)
    assert len(pool.texts) == 8 and f"sha256 {pool.sha256}" in capsys.readouterr().err
    assert len(list(cache.rglob("*.npy"))) == 1
    assert main(["train", "pool", "--source", "nope:x", "--out", str(tmp_path / "p2.jsonl")]) == 2
    assert "FORMAT:PATH" in capsys.readouterr().err
