"""api/registry.py directly: checkpoint resolution inside the models folder, versions, and the smoke test."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from presslens.api import registry
from presslens.model.encoder import ModelLoadError


def test_importing_the_registry_does_no_work():
    code = "import sys, api.registry; print('pysbd' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_resolve_checkpoint_stays_inside_the_models_folder(tmp_path):
    models = tmp_path / "models"
    (models / "good").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (models / "link").symlink_to(tmp_path / "outside")
    assert registry.resolve_checkpoint(str(models), "good") == (models / "good").resolve()
    for name in ("..", ".", "../outside", "link"):
        with pytest.raises(PermissionError):
            registry.resolve_checkpoint(str(models), name)
    with pytest.raises(FileNotFoundError, match="no checkpoint directory 'missing'"):
        registry.resolve_checkpoint(str(models), "missing")
    with pytest.raises(PermissionError, match="PRESSLENS_MODELS_DIR"):
        registry.resolve_checkpoint(None, "good")


def test_list_and_describe_checkpoints(tiny_stance_dir, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny_stance_dir, models / "b-stance")
    (models / "a-empty").mkdir()
    (models / ".hidden").mkdir()
    assert registry.list_checkpoints(str(models)) == [models / "b-stance"]
    assert registry.list_checkpoints(str(tmp_path / "nope")) == [] and registry.list_checkpoints(None) == []
    d = registry.describe_stance(models / "b-stance", active=False)
    assert d["id"] == "b-stance" and d["kind"] == "stance" and d["active"] is False
    assert "config.json" in d["checksums"] and len(d["version"]) == 12
    v = d["version"]
    (models / "b-stance" / "config.json").write_text((models / "b-stance" / "config.json").read_text() + " ")
    assert registry.describe_stance(models / "b-stance", active=True)["version"] != v
    assert registry.describe_summarizer(None)["version"] == "builtin"


def test_version_depends_on_files_and_encoder():
    a = registry.version_of({"w": "1"}, "enc")
    assert a == registry.version_of({"w": "1"}, "enc") and len(a) == 12
    assert a != registry.version_of({"w": "2"}, "enc") and a != registry.version_of({"w": "1"}, "other")


def test_smoke_test_passes_a_working_model_and_refuses_a_broken_one(tiny_analyzer):
    registry.smoke_test(tiny_analyzer)

    class Broken:
        def analyze(self, articles):
            raise RuntimeError("weights are NaN")

    with pytest.raises(ModelLoadError, match="smoke prediction failed: RuntimeError: weights are NaN"):
        registry.smoke_test(Broken())


def test_an_in_memory_model_served_with_the_numpy_head_is_described_like_its_torch_twin(tiny_analyzer, monkeypatch,
                                                                                      tmp_path):
    """The ONNX serving path holds a NumpyHead, which has no state_dict(): the version must still be its weights'."""
    from presslens.api.registry import describe_given
    from presslens.api.settings import Settings
    from presslens.model.head import NumpyHead, head_state

    settings = Settings(feedback_db=str(tmp_path / "fb.sqlite3"))
    torch_version = describe_given(tiny_analyzer, settings).version
    cfg = tiny_analyzer.stance.config
    monkeypatch.setattr(tiny_analyzer.stance, "head", NumpyHead(head_state(tiny_analyzer.stance.head), cfg.dim,
                                                                 cfg.hidden))
    assert describe_given(tiny_analyzer, settings).version == torch_version


def test_the_serving_encoder_is_warmed_in_the_background_and_says_so(tiny_analyzer):
    from presslens.api.batching import LoadedModel
    from presslens.api.registry import warm_in_background

    loaded = LoadedModel(tiny_analyzer, version="v", info={})
    thread = warm_in_background(loaded)
    thread.join(120)
    warm = loaded.info["warm"]
    assert warm["state"] == "done" and warm["shapes"] == len(tiny_analyzer.encoder.shapes.shapes())
    assert warm["seconds"] >= 0

    class Bare:  # an encoder without fixed shapes: nothing to warm, said so
        pass

    bare = LoadedModel(type("A", (), {"encoder": Bare()})(), version="v", info={})
    assert warm_in_background(bare) is None and bare.info["warm"]["state"] == "none"
