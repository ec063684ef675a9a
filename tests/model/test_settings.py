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
    settings.reload()
    assert settings.current() is settings.current()  # read once while nothing changed
    assert models_home() == tmp_path / "h" / "models" and cache_root() == tmp_path / "c" / "onnx"
    assert default_threads() == 5
    monkeypatch.setenv("PRESSLENS_THREADS", "-1")
    settings.reload()
    with pytest.raises(SettingsError, match="PRESSLENS_THREADS"):
        default_threads()


def test_the_environment_is_read_once_until_reload(monkeypatch):
    monkeypatch.setenv("PRESSLENS_THREADS", "3")
    settings.reload()
    first = settings.current()
    monkeypatch.setenv("PRESSLENS_THREADS", "4")
    assert settings.current() is first and first.threads == 3  # not re-read on every call
    assert settings.environment()["PRESSLENS_THREADS"] == "3"
    settings.reload()
    assert settings.current().threads == 4


def test_override_swaps_fields_inside_the_block_only(tmp_path):
    before = settings.current()
    with settings.override(threads=7, home=tmp_path) as s:
        assert settings.current() is s and (s.threads, s.models_dir) == (7, tmp_path / "models")
    assert settings.current() is before


def test_the_api_settings_extend_the_snapshot(monkeypatch, tmp_path):
    from presslens.api.settings import Settings

    settings.current()  # the process has started: the environment is read
    monkeypatch.setenv("PRESSLENS_MAX_ARTICLES", "9")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings().max_articles != 9  # read once: the change is not seen before a reload
    settings.reload()
    s = Settings()
    assert s.max_articles == 9 and s.core is settings.current()
    assert s.feedback_db == str(tmp_path / "presslens" / "feedback.sqlite3")


def test_child_env_is_this_process_with_overrides(monkeypatch):
    monkeypatch.setenv("PRESSLENS_X_TEST", "a")
    env = settings.child_env({"PRESSLENS_X_TEST": "b"}, EXTRA="c")
    assert (env["PRESSLENS_X_TEST"], env["EXTRA"], env["PATH"]) == ("b", "c", settings.child_env()["PATH"])
