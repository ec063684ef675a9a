"""model.settings: PRESSLENS_* read in one place, a bad value refused with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from presslens.model import settings
from presslens.model.settings import ModelSettings, SettingsError


def test_defaults_and_paths(monkeypatch):
    s = ModelSettings.from_env({})
    home = Path.home() / ".cache" / "presslens"
    assert (s.home, s.cache_dir, s.runtime, s.threads, s.precision) == (home, home, "auto", None, "auto")
    assert s.models_dir == home / "models" and s.onnx_cache == home / "onnx"
    assert s.teacher_cache == home / "cache" / "teacher"
    s = ModelSettings.from_env({"PRESSLENS_HOME": "/srv/pl", "XDG_CACHE_HOME": "/xdg", "PRESSLENS_RUNTIME": "TORCH",
                                "PRESSLENS_THREADS": " 3 "})
    assert (s.models_dir, s.onnx_cache, s.runtime, s.resolved_threads()) == (
        Path("/srv/pl/models"), Path("/xdg/presslens/onnx"), "torch", 3)
    assert ModelSettings.from_env({"PRESSLENS_CACHE_DIR": "/c"}).onnx_cache == Path("/c/onnx")


@pytest.mark.parametrize(("env", "message"), [
    ({"PRESSLENS_THREADS": "two"}, "bad setting PRESSLENS_THREADS='two': expected a whole number of threads"),
    ({"PRESSLENS_THREADS": "0"}, "bad setting PRESSLENS_THREADS=0: at least 1 thread"),
    ({"PRESSLENS_RUNTIME": "gpu"}, "bad setting PRESSLENS_RUNTIME='gpu': expected one of auto, onnx, torch"),
])
def test_a_bad_value_is_one_line_naming_the_variable(env, message):
    with pytest.raises(SettingsError) as err:
        ModelSettings.from_env(env)
    assert str(err.value) == message


def test_current_follows_the_environment_and_the_readers_use_it(monkeypatch, tmp_path):
    from presslens.model.profiles import models_home
    from presslens.model.runtime.onnx import cache_root, default_threads

    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("PRESSLENS_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("PRESSLENS_THREADS", "5")
    assert settings.current() is settings.current()  # read once while nothing changed
    assert models_home() == tmp_path / "h" / "models" and cache_root() == tmp_path / "c" / "onnx"
    assert default_threads() == 5
    monkeypatch.setenv("PRESSLENS_THREADS", "-1")
    with pytest.raises(SettingsError, match="PRESSLENS_THREADS"):
        default_threads()
