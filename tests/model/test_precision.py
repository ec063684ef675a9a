"""The precision ladder (model/runtime/precision.py) and its gate (model/runtime/gate.py), with fake runtimes and CPUs: nothing
here depends on the CPU the tests run on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from presslens.model import settings
from presslens.model.runtime import gate as gatemod
from presslens.model.runtime import precision as prec
from presslens.model.runtime.onnx import PrecisionSettingError, precision_setting
from presslens.model.settings import SettingsError

AVX2 = prec.CpuInfo("AMD EPYC (AVX2 only)", frozenset({"avx2", "fma"}))
VNNI = prec.CpuInfo("Intel Xeon (VNNI)", frozenset({"avx2", "avx512f", "avx512_vnni"}))
BF16 = prec.CpuInfo("AMD EPYC (Zen 4)", frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"}))
AMX = prec.CpuInfo("Intel Xeon (Sapphire Rapids)", frozenset({"avx512f", "amx_bf16", "amx_int8", "amx_tile"}))


# ------------------------------------------------------------------------------------------ the setting


def test_precision_setting_is_validated_in_one_line(monkeypatch):
    monkeypatch.delenv("PRESSLENS_PRECISION", raising=False)
    settings.reload()
    assert precision_setting() == "auto"
    monkeypatch.setenv("PRESSLENS_PRECISION", " BF16 ")
    settings.reload()
    assert precision_setting() == "bf16"
    monkeypatch.setenv("PRESSLENS_PRECISION", "")
    settings.reload()
    assert precision_setting() == "auto"
    monkeypatch.setenv("PRESSLENS_PRECISION", "fp16")
    settings.reload()
    with pytest.raises(SettingsError) as err:  # read and checked by the one settings object
        precision_setting()
    assert str(err.value) == "bad setting PRESSLENS_PRECISION='fp16': expected one of auto, fp32, bf16, int8"
    assert precision_setting("int8") == "int8"
    with pytest.raises(PrecisionSettingError) as err:  # a bad --precision value on a command line
        precision_setting("fp16")
    assert str(err.value) == "bad precision 'fp16': choose one of auto, fp32, bf16, int8"


def test_cpu_info_reads_model_and_flags(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512_bf16 sse\n\n"
                 "processor\t: 1\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512_bf16 sse\n")
    cpu = prec.cpu_info(str(f))
    assert cpu.model == "Test CPU 9000" and {"avx2", "avx512_bf16"} <= cpu.flags
    assert cpu.to_dict() == {"model": "Test CPU 9000", "flags": ["avx2", "avx512_bf16"]}
    nothing = prec.cpu_info(str(tmp_path / "missing"))
    assert nothing.model == "unknown" and not nothing.flags


# ------------------------------------------------------------------------------------------ the plan


def test_auto_without_bf16_or_vnni_units_is_fp32():
    tries, skipped = prec.plan("auto", AVX2)
    assert [p for p, _ in tries] == ["fp32"]
    assert "no faster precision is native" in tries[0][1]
    assert set(skipped) == {"bf16", "int8"} and "avx512_bf16" in skipped["bf16"]


def test_auto_tries_the_native_rungs_top_first():
    assert [p for p, _ in prec.plan("auto", VNNI)[0]] == ["int8", "fp32"]
    tries, skipped = prec.plan("auto", BF16)
    assert [p for p, _ in tries] == ["bf16", "int8", "fp32"] and not skipped
    assert "avx512_bf16" in tries[0][1] and "avx512_vnni" in tries[1][1]
    assert [p for p, _ in prec.plan("auto", AMX)[0]] == ["bf16", "int8", "fp32"]


def test_an_explicit_precision_is_tried_alone_above_fp32():
    tries, skipped = prec.plan("int8", AVX2)  # int8 runs anywhere; off VNNI it is said to be emulated
    assert [p for p, _ in tries] == ["int8", "fp32"] and "emulated" in tries[0][1]
    tries, skipped = prec.plan("bf16", AVX2)  # bf16 without the units would be fp32 under another name
    assert [p for p, _ in tries] == ["fp32"] and "OpenVINO would run it in fp32" in skipped["bf16"]
    assert [p for p, _ in prec.plan("bf16", BF16)[0]] == ["bf16", "fp32"]
    assert prec.plan("fp32", AMX) == ([("fp32", "requested (PRESSLENS_PRECISION=fp32)")], {})


# ------------------------------------------------------------------------------------------ choosing


@dataclass
class FakeEncoder:
    precision: str
    runtime: str = "onnx"
    precision_choice: dict = field(default_factory=dict)


class FakeLadder:
    """A fake runtime: ``gate(p)`` writes the verdict given for ``p`` (or raises), as the child process would."""

    def __init__(self, tmp_path: Path, verdicts: dict):
        self.stance_dir = tmp_path / "stance"
        self.stance_dir.mkdir()
        (self.stance_dir / "config.json").write_text("{}")
        self.fp32_dir = tmp_path / "cache" / "key"
        self.verdicts = verdicts
        self.gated: list[str] = []

    def gate(self, p: str) -> None:
        self.gated.append(p)
        v = self.verdicts[p]
        if isinstance(v, Exception):
            raise v
        prec.write_verdict(prec.verdict_path(self.fp32_dir, p, self.stance_dir, self.cpu), v)

    def choose(self, requested: str, cpu: prec.CpuInfo):
        self.cpu = cpu
        return prec.choose(requested, self.fp32_dir, self.stance_dir, load_fp32=lambda: FakeEncoder("fp32"),
                           load=lambda p, d: FakeEncoder(p), gate=self.gate, cpu=cpu)


def _verdict(passed: bool, flips: int = 0) -> dict:
    return {"gate_version": gatemod.GATE_VERSION, "passed": passed, "probe_sentences": 40,
            "probe_labels_changed": flips, "article_labels_changed": [], "probe_articles": 5, "dev": None,
            "failures": [] if passed else [f"{flips}/40 probe sentence labels differ from fp32"]}


def test_the_first_rung_that_passes_serves_and_its_verdict_is_cached(tmp_path):
    ladder = FakeLadder(tmp_path, {"bf16": _verdict(True), "int8": _verdict(True)})
    enc = ladder.choose("auto", BF16)
    assert enc.precision == "bf16" and ladder.gated == ["bf16"]
    c = enc.precision_choice
    assert c["requested"] == "auto" and c["precision"] == "bf16" and c["backend"] == "openvino"
    assert "avx512_bf16" in c["why"] and "passed the gate" in c["why"]
    assert c["gate"]["passed"] and "0/40 probe sentence labels" in c["gate"]["summary"]
    assert "no dev set given" in c["gate"]["summary"] and c["cpu"]["model"] == "AMD EPYC (Zen 4)"
    again = ladder.choose("auto", BF16)  # the cached verdict: no second gate
    assert again.precision == "bf16" and ladder.gated == ["bf16"]


def test_a_refused_rung_is_logged_in_one_line_and_the_next_one_down_serves(tmp_path, caplog):
    ladder = FakeLadder(tmp_path, {"bf16": _verdict(False, flips=3), "int8": RuntimeError("no VNNI kernel")})
    with caplog.at_level(logging.WARNING, logger="presslens.precision"):
        enc = ladder.choose("auto", BF16)
    assert enc.precision == "fp32" and ladder.gated == ["bf16", "int8"]
    c = enc.precision_choice
    assert c["why"] == "the floor: every faster rung was refused" and c["gate"] is None
    assert "3/40 probe sentence labels differ from fp32" in c["refused"]["bf16"]
    assert "could not be prepared: no VNNI kernel" in c["refused"]["int8"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("\n" not in m for m in lines)
    assert lines[0].startswith("precision bf16 refused (the gate refused it: 3/40 probe sentence labels")


def test_auto_on_a_cpu_without_units_never_gates(tmp_path):
    ladder = FakeLadder(tmp_path, {})
    enc = ladder.choose("auto", AVX2)
    assert enc.precision == "fp32" and ladder.gated == []
    assert set(enc.precision_choice["skipped"]) == {"bf16", "int8"}


def test_a_verdict_is_keyed_by_the_checkpoint_files(tmp_path):
    ladder = FakeLadder(tmp_path, {"int8": _verdict(True)})
    ladder.choose("int8", VNNI)
    (ladder.stance_dir / "config.json").write_text('{"threshold": 0.4}')  # another head: gate again
    ladder.choose("int8", VNNI)
    assert ladder.gated == ["int8", "int8"]


def test_a_verdict_holds_for_one_cpu_class(tmp_path):
    ladder = FakeLadder(tmp_path, {"int8": _verdict(True)})
    ladder.choose("int8", VNNI)
    ladder.choose("int8", VNNI)
    ladder.choose("int8", AMX)  # other units, other kernels: gated again
    assert ladder.gated == ["int8", "int8"]


def test_a_stale_or_dev_less_verdict_is_not_trusted_where_it_should_not_be(tmp_path):
    path = tmp_path / "v.json"
    prec.write_verdict(path, {**_verdict(True), "gate_version": gatemod.GATE_VERSION - 1})
    assert prec.read_verdict(path) is None
    prec.write_verdict(path, _verdict(True))
    assert prec.read_verdict(path) is not None and prec.read_verdict(path, dev_sha256="abc") is None
    prec.write_verdict(path, {**_verdict(True), "dev": {"sha256": "abc"}})
    assert prec.read_verdict(path, dev_sha256="abc") is not None and prec.read_verdict(path) is not None


# ------------------------------------------------------------------------------------------ the gate


class FakeStance:
    """What the gate needs of a StanceModel: a head over 1-d 'embeddings' (the probability itself)."""

    class config:  # noqa: N801 - the attribute name StanceModel has
        threshold = 0.5
        id2label = {0: "neutral", 1: "editorial"}

    def proba_from_embeddings(self, emb, texts=None):
        return np.asarray(emb, dtype=np.float32)[:, 0]

    def judge_article(self, texts, p, is_title):
        from presslens.model.stance import ArticleStance

        share = float(np.mean(p >= 0.5)) if len(p) else 0.0
        return ArticleStance("editorial" if share >= 0.5 else "neutral", 1.0, share, [])


class ScoreEncoder:
    """An encoder whose 'embedding' of a text is a fixed score per text, plus ``shift`` for the texts chosen."""

    def __init__(self, shift: float = 0.0, where=lambda text: True):
        self.shift, self.where = shift, where

    def encode(self, texts):
        base = [(sum(map(ord, t)) % 100) / 100 for t in texts]
        return np.array([[b + (self.shift if self.where(t) else 0.0)] for b, t in zip(base, texts, strict=True)],
                        dtype=np.float32)


def test_gate_passes_an_encoder_that_keeps_every_label():
    data = gatemod.probe_data()
    v = gatemod.run_gate(FakeStance(), ScoreEncoder(), ScoreEncoder(1e-4), data)
    assert v["passed"] and v["failures"] == [] and v["probe_labels_changed"] == 0
    assert v["probe_sentences"] == len(data.probes) >= 40 and v["probe_articles"] == 5
    assert v["dev"] is None and v["probe_max_prob_diff"] == pytest.approx(1e-4, abs=1e-5)


def test_gate_refuses_one_flipped_probe_sentence():
    data = gatemod.probe_data()
    target = data.probes[1]  # pushed across the threshold, one way or the other
    base = ScoreEncoder().encode([target])[0, 0]
    flip = ScoreEncoder(0.6 if base < 0.5 else -0.6, where=lambda t: t == target)
    v = gatemod.run_gate(FakeStance(), ScoreEncoder(), flip, data)
    assert not v["passed"] and v["probe_labels_changed"] == 1
    assert v["failures"][0] == f"1/{len(data.probes)} probe sentence labels differ from fp32"


def test_gate_refuses_a_changed_article_label():
    data = gatemod.GateData(probes=("Why?",), articles=(("a", "One sentence here. And another one."),))
    everything_editorial = ScoreEncoder(2.0, where=lambda t: t != "Why?")
    v = gatemod.run_gate(FakeStance(), ScoreEncoder(-2.0, where=lambda t: t != "Why?"), everything_editorial, data)
    assert not v["passed"] and v["article_labels_changed"] == ["a"]
    assert "1/1 probe article labels differ from fp32 (a)" in v["failures"][0]


def test_gate_holds_dev_macro_f1_within_the_tolerance():
    texts = [f"dev sentence number {i}" for i in range(200)]
    ref = ScoreEncoder()
    labels = ["editorial" if s >= 0.5 else "neutral" for s in ref.encode(texts)[:, 0]]  # fp32 is perfect here
    dev = gatemod.DevSet.of(texts, labels, "dev.tsv")
    data = gatemod.GateData(probes=("Why?",), articles=(), dev=dev)
    v = gatemod.run_gate(FakeStance(), ref, ScoreEncoder(), data)
    assert v["passed"] and v["dev"]["macro_f1"] == v["dev"]["macro_f1_fp32"] == 1.0
    assert "dev macro-F1 1.0000 against fp32's 1.0000" in gatemod.summary(v)
    # Three of 200 dev labels changed: macro-F1 drops by about 0.015, over the 0.005 allowed.
    moved = set(texts[:3])
    worse = ScoreEncoder(5.0, where=lambda t: t in moved and ref.encode([t])[0, 0] < 0.5)
    worse2 = ScoreEncoder(-5.0, where=lambda t: t in moved and ref.encode([t])[0, 0] >= 0.5)

    class Both:
        def encode(self, ts):
            return worse.encode(ts) + worse2.encode(ts) - ref.encode(ts)

    v = gatemod.run_gate(FakeStance(), ref, Both(), data)
    assert not v["passed"] and v["dev"]["labels_changed"] == 3
    assert v["failures"][0].startswith("dev macro-F1 0.98") and "more than 0.005 apart" in v["failures"][0]


def test_macro_f1_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    gold = list(rng.choice(["neutral", "editorial"], 300))
    pred = list(rng.choice(["neutral", "editorial"], 300))
    assert gatemod.macro_f1(gold, pred) == pytest.approx(f1_score(gold, pred, average="macro"))


def test_dev_set_refuses_bad_labels():
    with pytest.raises(ValueError, match="labels must be neutral/editorial"):
        gatemod.DevSet.of(["a"], ["SUBJ"], "x")
    with pytest.raises(ValueError, match="1 texts for 2 labels"):
        gatemod.DevSet.of(["a"], ["neutral", "neutral"], "x")


def test_the_cpu_is_read_once_and_eval_records_what_the_ladder_sees():
    from presslens.eval.provenance import machine_info

    assert prec.cpu_info() is prec.cpu_info()  # cached: /proc/cpuinfo is parsed once per process
    if prec.cpu_info().model != "unknown":
        assert machine_info()["processor"] == prec.cpu_info().model
