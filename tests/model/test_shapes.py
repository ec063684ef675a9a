"""Fixed encoder shapes (model/shapes.py): a sentence's numbers do not depend on its neighbours, on every runtime,
and the set of shapes a runtime ever sees is the plan's finite set."""

from __future__ import annotations

import random

import numpy as np
import pytest
from presslens.model.pipeline import Analyzer
from presslens.model.runtime.cpu import cpu_info
from presslens.model.shapes import ShapePlan, pad_run, waste


def test_bucket_comes_from_the_sentence_alone_and_runs_cover_every_sentence_once():
    plan = ShapePlan()
    rng = random.Random(0)
    for _ in range(50):
        lengths = [rng.randint(1, 200) for _ in range(rng.randint(1, 120))]
        runs = plan.runs(lengths)
        assert sorted(i for r in runs for i in r.index) == list(range(len(lengths)))
        for r in runs:
            assert (r.rows, r.width) in plan.shapes()
            assert len(r.index) <= r.rows and r.rows >= plan.min_rows
            assert all(plan.bucket(lengths[i]) == r.width for i in r.index)
            assert r.rows * r.width <= max(plan.tokens_per_run, plan.min_rows * r.width)
    assert plan.bucket(1) == 8 and plan.bucket(9) == 16 and plan.bucket(500) == 128


def test_pad_run_repeats_a_real_row_and_waste_counts_it():
    plan = ShapePlan()
    (run,) = plan.runs([5])
    ids, mask = pad_run(run, [[7, 8, 9, 10, 11]])
    assert ids.shape == (2, 8) and mask[:, :5].all() and not mask[:, 5:].any()
    assert (ids[0] == ids[1]).all()
    w = waste(plan, [[5]])
    assert w["real_tokens"] == 5 and w["computed_tokens"] == 16 and w["dummy_share"] == 0.5


ALONE = ("The ministry said the talks would resume next week. Frankly, this whole exercise is a waste of "
         "everyone's time. Officials met in London on Friday.")


def _probabilities(analyzer, articles):
    from presslens.model.text import Article

    built = [Article(t, id=str(i)) for i, t in enumerate(articles)]
    return [[s.probability for s in a.stance.sentences] for a in analyzer.analyze(built)]


def _invariant(analyzer, seeds):
    """The article alone, first and last of a mixed batch, and between other requests: identical numbers."""
    seed_texts = list(seeds.values())
    alone = _probabilities(analyzer, [ALONE])[0]
    mixed = [*seed_texts, ALONE, *seed_texts[:2]]
    assert _probabilities(analyzer, mixed)[len(seed_texts)] == alone
    assert _probabilities(analyzer, [ALONE, *seed_texts])[0] == alone
    many = [ALONE] * 3 + [t[: 200 * (i + 1)] for i, t in enumerate(seed_texts)]
    assert all(p == alone for p in _probabilities(analyzer, many)[:3])


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_an_article_alone_and_inside_a_mixed_batch_gets_identical_probabilities(tiny_stance_dir, seed_texts,
                                                                                 runtime):
    """Through ``Analyzer.analyze``: what the service's batch worker calls on the requests it merged."""
    _invariant(Analyzer.load(tiny_stance_dir, runtime=runtime, precision="fp32"), seed_texts)


def test_the_same_at_bf16_on_openvino(tiny_stance_dir, seed_texts, tmp_path):
    if not {"amx_bf16", "avx512_bf16"} & cpu_info().flags:
        pytest.skip("this CPU has no bf16 units (amx_bf16 / avx512_bf16): OpenVINO would run bf16 as fp32")
    from presslens.model.runtime import lowp
    from presslens.model.runtime.onnx import export_encoder
    from presslens.model.stance import StanceModel

    torch_model = StanceModel.from_pretrained(tiny_stance_dir)
    fp32 = export_encoder(torch_model.encoder, tmp_path / "fp32")
    bf16 = lowp.load(lowp.build_bf16(torch_model.encoder, fp32, tmp_path / "bf16"))
    assert bf16.precision == "bf16" and bf16.runtime == "openvino"
    torch_model.encoder = bf16
    _invariant(Analyzer(torch_model), seed_texts)


@pytest.fixture(scope="module")
def tiny_export_dir(tiny_encoder_dir, tmp_path_factory):
    from presslens.model.encoder import Encoder
    from presslens.model.runtime.onnx import export_encoder

    return export_encoder(Encoder(str(tiny_encoder_dir)), tmp_path_factory.mktemp("onnx") / "tiny")


class _RecordingSession:
    """An ONNX Runtime session stand-in that records every input shape it is run with."""

    def __init__(self, dim: int):
        self.dim, self.shapes = dim, set()

    def run(self, _outputs, feeds):
        self.shapes.add(feeds["input_ids"].shape)
        return [np.zeros((feeds["input_ids"].shape[0], self.dim), dtype=np.float32)]


def test_the_shapes_an_encoder_sees_are_the_plans_finite_set(tiny_export_dir):
    from presslens.model.runtime.onnx import OnnxEncoder

    enc = OnnxEncoder.load(tiny_export_dir)
    enc.session = _RecordingSession(enc.dim)
    rng = random.Random(1)
    words = "the talks would resume next week officials said in london on friday".split()
    for _ in range(60):  # requests of every size, sentences of every length
        enc.encode([" ".join(rng.choices(words, k=rng.randint(1, 150))) for _ in range(rng.randint(1, 90))])
    assert enc.session.shapes <= set(enc.shapes.shapes())
    assert len(enc.shapes.shapes()) <= 64  # the bound OpenVINO's per-shape cache is sized to
    assert enc.warm() == len(enc.shapes.shapes()) and enc.session.shapes == set(enc.shapes.shapes())


def test_openvino_per_shape_cache_is_bounded_and_covers_the_plan():
    from presslens.model.runtime import lowp

    config = lowp.compile_config("bf16", threads=1, max_length=128)
    shapes = len(ShapePlan(max_length=128).shapes())
    assert shapes <= config["CPU_RUNTIME_CACHE_CAPACITY"] <= lowp.CACHE_ENTRIES_PER_SHAPE * shapes
