"""The ONNX Runtime encoder against the torch reference: tiny random BERT and MPNet models in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from presslens.model import settings
from presslens.model.encoder import Encoder, ModelLoadError
from presslens.model.runtime import onnx as runtime
from presslens.model.runtime.loader import load_stance
from presslens.model.runtime.onnx import OnnxEncoder, choose_runtime, export_encoder, fingerprint
from presslens.model.stance import StanceModel

TEXTS = [
    "the talks in london would resume , the minister said .",
    "i think this is a waste of time .",
    "what ?",
    " ".join(["the foreign minister said the referendum in crimea was not a meeting of the state ."] * 20),
    "sanctions",
    "russia and ukraine ; kerry and lavrov : talks ( 2014 ) - \" no doubt \" .",
]


@pytest.fixture(scope="module")
def tiny_export(tiny_encoder_dir, tmp_path_factory) -> tuple[Encoder, Path]:
    enc = Encoder(str(tiny_encoder_dir), max_length=64)
    return enc, export_encoder(enc, tmp_path_factory.mktemp("onnx") / "tiny-bert")


def test_onnx_embeddings_equal_torch(tiny_export):
    enc, directory = tiny_export
    onnx = OnnxEncoder.load(directory)
    expected = enc.encode(TEXTS)
    got = onnx.encode(TEXTS)
    assert got.shape == (len(TEXTS), enc.dim)
    assert np.abs(got - expected).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # the tokenizer is the same one, truncation included (the long text stops at max_length)
    assert onnx.count_tokens(TEXTS) == enc.count_tokens(TEXTS)
    assert max(onnx.count_tokens(TEXTS)) == 64
    assert onnx.encode([]).shape == (0, enc.dim)


def test_export_is_fused_and_described(tiny_export):
    _, directory = tiny_export
    meta = json.loads((directory / runtime.META_NAME).read_text())
    assert meta["graph"] == "optimised"
    # the transformer optimiser recognised the attention and LayerNorm blocks of both layers
    assert meta["fused"].get("Attention") == 2
    assert meta["fused"].get("SkipLayerNormalization", 0) >= 2
    assert meta["probe_max_abs_diff"] < runtime.EMBEDDING_TOLERANCE
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [runtime.GRAPH_NAME, runtime.TOKENIZER_NAME, runtime.META_NAME])


def test_runs_follow_the_shape_plan(tiny_export):
    _, directory = tiny_export
    onnx = OnnxEncoder.load(directory)
    whole = onnx.encode(TEXTS)
    assert set(onnx.shapes.shapes()) >= {(r.rows, r.width) for r in onnx.shapes.runs(onnx.count_tokens(TEXTS))}
    # the result does not depend on the plan's run sizes (to float rounding: other shapes, other kernels)
    from presslens.model.shapes import ShapePlan

    onnx.shapes = ShapePlan(max_length=onnx.max_length, tokens_per_run=64, max_rows=2)
    np.testing.assert_allclose(onnx.encode(TEXTS), whole, atol=1e-5)


def test_mpnet_exports_too(tmp_path):
    """The export is generic over HF encoders: an MPNet (the teacher's architecture) round-trips as well."""
    import torch
    from transformers import BertTokenizerFast, MPNetConfig, MPNetModel

    from tests.conftest import build_tiny_encoder

    bert_dir = build_tiny_encoder(tmp_path / "vocab-source")
    tokenizer = BertTokenizerFast.from_pretrained(str(bert_dir))
    config = MPNetConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=260,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    MPNetModel(config).save_pretrained(str(tmp_path / "mpnet"))
    tokenizer.save_pretrained(str(tmp_path / "mpnet"))
    enc = Encoder(str(tmp_path / "mpnet"), max_length=64)
    directory = export_encoder(enc, tmp_path / "mpnet-onnx")
    got = OnnxEncoder.load(directory).encode(TEXTS)
    assert np.abs(got - enc.encode(TEXTS)).max() < 1e-5
    assert json.loads((directory / runtime.META_NAME).read_text())["architecture"] == "MPNetModel"


def test_stance_probabilities_agree_and_export_is_cached(tiny_stance_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSLENS_CACHE_DIR", str(tmp_path))
    settings.reload()
    reference = StanceModel.from_pretrained(tiny_stance_dir)
    served = load_stance(tiny_stance_dir, runtime="onnx")
    assert served.encoder.runtime == "onnx"
    p_ref, p_onnx = reference.predict_proba(TEXTS)[:, 1], served.predict_proba(TEXTS)[:, 1]
    assert np.abs(p_ref - p_onnx).max() < 1e-5
    assert reference.predict(TEXTS) == served.predict(TEXTS)
    exports = list((tmp_path / "onnx").iterdir())
    assert len(exports) == 1 and (exports[0] / runtime.GRAPH_NAME).is_file()

    # A second load finds it: in memory the same encoder, from disk without exporting again.
    assert load_stance(tiny_stance_dir, runtime="onnx").encoder is served.encoder
    del served
    monkeypatch.setattr(runtime, "export_encoder", lambda *a, **k: pytest.fail("exported again"))
    again = load_stance(tiny_stance_dir, runtime="auto")
    assert again.encoder.runtime == "onnx"
    assert np.abs(again.predict_proba(TEXTS)[:, 1] - p_ref).max() < 1e-5


def test_fingerprint_follows_the_weights(tiny_encoder_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_encoder_dir, copy)
    same = fingerprint([copy], max_length=64)
    assert same == fingerprint([tiny_encoder_dir], max_length=64)
    assert fingerprint([copy], max_length=128) != same
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert fingerprint([copy], max_length=64) != same


def test_runtime_choice_and_fallback(tiny_encoder_dir, tmp_path):
    def build():
        return Encoder(str(tiny_encoder_dir), max_length=64)

    assert choose_runtime("torch", None, build).runtime == "torch"
    # auto falls back to torch when no export can be keyed; onnx insists and says why
    assert choose_runtime("auto", None, build).runtime == "torch"
    with pytest.raises(ModelLoadError, match="not local files"):
        choose_runtime("onnx", None, build)
    with pytest.raises(ModelLoadError, match="unknown runtime"):
        choose_runtime("tensorrt", None, build)
    onnx = choose_runtime("onnx", lambda: ([tiny_encoder_dir], {"max_length": 64}), build, cache_dir=tmp_path)
    assert onnx.runtime == "onnx"


def test_failed_export_leaves_no_cache_entry(tiny_encoder_dir, tmp_path, monkeypatch):
    enc = Encoder(str(tiny_encoder_dir), max_length=64)
    monkeypatch.setattr(runtime, "EMBEDDING_TOLERANCE", -1.0)  # nothing can agree: the export must fail
    with pytest.raises(ModelLoadError, match="does not reproduce"):
        export_encoder(enc, tmp_path / "never")
    assert list(tmp_path.iterdir()) == []


def test_serving_loads_no_training_or_report_libraries(tiny_stance_dir, tmp_path):
    """What `presslens serve` imports to load a model and answer: no datasets, matplotlib, scikit-learn, peft,
    and with the ONNX runtime not even torch or transformers (each costs memory and start-up time it never
    uses: torch alone is about 200 MB and a second)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from api.cli import parser_for\n"
        "parser_for(['serve']).parse_args(['serve'])\n"
        "from api import registry\n"
        f"loaded = registry.load_initial({str(tiny_stance_dir)!r}, None, 'onnx')\n"
        "assert loaded.info['runtime'] == 'onnx', loaded.info\n"
        "registry.smoke_test(loaded.analyzer)\n"
        "print(' '.join(sorted(m for m in ('datasets', 'matplotlib', 'sklearn', 'peft', 'transformers', 'torch',"
        " 'sentence_transformers', 'pandas', 'scipy') if m in sys.modules)))\n"
    )
    import os

    env = {**os.environ, "PRESSLENS_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the first load exported the encoder (in a child process, which may import what it likes) ...
    assert any((tmp_path / "onnx").iterdir())
    # ... and the serving process itself imported none of them
    assert proc.stdout.strip().splitlines()[-1:] in ([], [""]), proc.stdout


@pytest.mark.integration
def test_shipped_model_on_onnx_agrees_with_torch(seed_texts, tmp_path, monkeypatch):
    """The shipped stance model served through ONNX Runtime: the same sentence probabilities (to 1e-3, the
    bar; in practice ~1e-6) and the same sentence and article labels as the torch reference on the seeds."""
    from presslens.model.pipeline import Analyzer
    from presslens.model.text import Article

    monkeypatch.setenv("PRESSLENS_CACHE_DIR", str(tmp_path))
    settings.reload()
    torch_side = Analyzer.load(runtime="torch")
    onnx_side = Analyzer.load(runtime="onnx")
    assert onnx_side.encoder.runtime == "onnx" and onnx_side.encoder.meta["graph"] == "optimised"
    articles = [Article(text, id=key) for key, text in sorted(seed_texts.items())]
    expected = [r.to_dict() for r in torch_side.analyze(articles)]
    got = [r.to_dict() for r in onnx_side.analyze([Article(t, id=k) for k, t in sorted(seed_texts.items())])]
    diffs = [abs(a["probability"] - b["probability"]) for e, g in zip(expected, got, strict=True)
             for a, b in zip(e["sentences"], g["sentences"], strict=True)]
    assert len(diffs) > 50 and max(diffs) <= 1e-3
    assert [g["label"] for g in got] == [e["label"] for e in expected] == ["neutral"] * 4 + ["editorial"]
    assert [g["commentary"] for g in got] == [e["commentary"] for e in expected]
    assert [[s["index"] for s in g["summary"]] for g in got] == [[s["index"] for s in e["summary"]] for e in expected]


@pytest.mark.parametrize("hidden", [0, 16])
def test_numpy_head_equals_the_torch_head(hidden, tmp_path):
    """The head a torch-free server runs (numpy) gives the torch head's probabilities, linear or MLP."""
    import torch
    from presslens.model.head import NumpyHead, build_head
    from safetensors.numpy import load_file
    from safetensors.torch import save_file

    torch.manual_seed(1)
    head = build_head(32, hidden).eval()
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(tmp_path / "head.safetensors"))
    x = np.random.default_rng(0).normal(size=(7, 32)).astype(np.float32)
    with torch.no_grad():
        expected = torch.sigmoid(head(torch.from_numpy(x)).squeeze(-1)).numpy()
    numpy_head = NumpyHead(load_file(str(tmp_path / "head.safetensors")), 32, hidden)
    np.testing.assert_allclose(numpy_head.proba(x), expected, atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(torch.sigmoid(numpy_head.to_torch()(torch.from_numpy(x)).squeeze(-1)).numpy(),
                                   expected, atol=1e-7)
    with pytest.raises(ModelLoadError, match="does not match the config"):
        NumpyHead(load_file(str(tmp_path / "head.safetensors")), 31, hidden)
