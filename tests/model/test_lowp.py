"""bf16 (OpenVINO) and int8 (ONNX Runtime) exports of a tiny random model, gated against its fp32 export.

The backends run on any x86 CPU (emulated where the CPU lacks the units), so these tests check the plumbing
and the numbers' agreement, never the speed, and hold on every CPU kind.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from presslens.model.runtime import lowp
from presslens.model.runtime.gate import DevSet
from presslens.model.runtime.loader import load_stance
from presslens.model.runtime.precision import read_verdict, verdict_path
from presslens.model.runtime.prepare import prepare_and_gate

TEXTS = ["the minister said the talks would resume.", "i think this is a waste of time ?",
         "kerry and lavrov met in london on friday , officials said ."]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def fp32(tiny_stance_dir):
    return load_stance(tiny_stance_dir, runtime="onnx")


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_a_precision_is_built_gated_and_cached(tiny_stance_dir, fp32, precision):
    verdict = prepare_and_gate(tiny_stance_dir, precision)
    assert verdict["precision"] == precision and verdict["backend"] == lowp.BACKENDS[precision]
    assert verdict["probe_sentences"] >= 40 and verdict["probe_articles"] == 5 and verdict["dev"] is None
    assert isinstance(verdict["passed"], bool) and verdict["passed"] == (not verdict["failures"])
    path = verdict_path(fp32.encoder.directory, precision, tiny_stance_dir)
    assert read_verdict(path) == json.loads(path.read_text()) == verdict
    directory = lowp.precision_dir(fp32.encoder.directory, precision)
    enc = lowp.load(directory)
    assert enc.precision == precision and enc.runtime == ("openvino" if precision == "bf16" else "onnx")
    assert enc.checksum() == fp32.encoder.checksum()  # the same weights: heads and summarizers match it
    got, ref = enc.encode(TEXTS), fp32.encoder.encode(TEXTS)
    assert got.shape == ref.shape == (3, fp32.encoder.dim) and got.dtype == np.float32
    assert _cosines(got, ref).min() > (0.999 if precision == "bf16" else 0.95)
    assert prepare_and_gate(tiny_stance_dir, precision) == verdict  # cached: not gated again


def test_a_dev_set_is_gated_again_and_recorded(tiny_stance_dir, fp32):
    labels = fp32.predict(TEXTS * 4)
    dev = DevSet.of(TEXTS * 4, labels, "tiny-dev")
    verdict = prepare_and_gate(tiny_stance_dir, "int8", dev)
    assert verdict["dev"]["name"] == "tiny-dev" and verdict["dev"]["sentences"] == 12
    assert verdict["dev"]["macro_f1_fp32"] == pytest.approx(1.0 if len(set(labels)) == 2 else 0.5)
    assert prepare_and_gate(tiny_stance_dir, "int8") == verdict  # a dev verdict serves calls without dev


def test_the_ladder_serves_what_its_verdict_allows(tiny_stance_dir, fp32):
    verdict = prepare_and_gate(tiny_stance_dir, "int8")
    model = load_stance(tiny_stance_dir, runtime="onnx", precision="int8")
    choice = model.encoder.precision_choice
    assert choice["requested"] == "int8" and choice["cpu"]["model"]
    if verdict["passed"]:
        assert choice["precision"] == model.encoder.precision == "int8" and choice["gate"]["passed"]
        assert model.predict(TEXTS) == fp32.predict(TEXTS)
    else:
        assert choice["precision"] == "fp32" and "the gate refused it" in choice["refused"]["int8"]
    same = load_stance(tiny_stance_dir, runtime="onnx", precision="int8")
    assert same.encoder is model.encoder  # loaded once per process, like the fp32 export


def test_fp32_and_torch_take_no_ladder(tiny_stance_dir):
    plain = load_stance(tiny_stance_dir, runtime="onnx")
    assert plain.encoder.precision == "fp32" and not hasattr(plain.encoder, "precision_choice")
    torch_model = load_stance(tiny_stance_dir, runtime="torch", precision="bf16")
    assert torch_model.encoder.runtime == "torch" and torch_model.encoder.precision == "fp32"
