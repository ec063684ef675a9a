"""Profiles by name: one resolver for --model everywhere, and the one-line message when mpnet is missing."""

from __future__ import annotations

import json
import shutil

import pytest
from presslens.model import settings
from presslens.model.encoder import ModelLoadError
from presslens.model.profiles import WEIGHTS_DIR, models_home, profile_name, resolve_stance


def test_names_and_paths_resolve(tmp_path):
    assert resolve_stance(None) == WEIGHTS_DIR / "stance"
    assert resolve_stance("default") == WEIGHTS_DIR / "stance"
    assert resolve_stance(str(tmp_path)) == tmp_path
    assert profile_name(WEIGHTS_DIR / "stance") == "default"
    assert profile_name(tmp_path) is None


def test_models_home_follows_presslens_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path))
    settings.reload()
    assert models_home() == tmp_path / "models"


def test_accurate_without_mpnet_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path))  # an empty home: nothing installed
    settings.reload()
    with pytest.raises(ModelLoadError) as err:
        resolve_stance("accurate")
    message = str(err.value)
    assert "\n" not in message and "presslens models install mpnet" in message


def test_a_checkpoint_on_an_installed_encoder_loads_through_the_name(tiny_encoder_dir, tmp_path, monkeypatch):
    """A stance checkpoint whose config names the encoder "mpnet" finds it in the models home."""
    from presslens.model.stance import StanceModel

    home = tmp_path / "home"
    shutil.copytree(tiny_encoder_dir, home / "models" / "all-mpnet-base-v2")
    monkeypatch.setenv("PRESSLENS_HOME", str(home))
    settings.reload()
    model = StanceModel.new("mpnet")
    saved = model.save_pretrained(tmp_path / "ckpt")
    assert json.loads((saved / "config.json").read_text())["encoder"] == "mpnet"
    again = StanceModel.from_pretrained(saved)
    texts = ["I think this is a disgrace.", "The talks ended on Monday."]
    assert again.predict_proba(texts) == pytest.approx(model.predict_proba(texts), abs=1e-6)
    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path / "empty"))
    settings.reload()
    with pytest.raises(ModelLoadError, match="presslens models install mpnet"):
        StanceModel.from_pretrained(saved)


def test_default_names_the_profile_and_minilm_the_base_encoder():
    from presslens.model.encoder import DEFAULT_ENCODER, encoder_name, resolve_model_path

    assert DEFAULT_ENCODER == "minilm" and encoder_name(None) == encoder_name("default") == "minilm"
    # older checkpoints' configs say "default" for the packaged encoder: they load the same weights
    assert resolve_model_path("default") == resolve_model_path("minilm") == resolve_model_path(None)
    assert encoder_name("mpnet") == "mpnet"


def test_training_writes_the_summarizer_where_the_resolver_looks():
    from presslens.model.profiles import default_summarizer_path
    from presslens.training.summarizer import TrainSummarizerArgs

    assert TrainSummarizerArgs.__dataclass_fields__["out"].default == str(default_summarizer_path())
