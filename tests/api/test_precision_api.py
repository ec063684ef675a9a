"""The precision setting as the service, `presslens prepare` and `presslens batch` show it (tiny model)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from presslens.api import registry
from presslens.api.app import create_app
from presslens.api.cli import main
from presslens.api.settings import Settings
from presslens.model import settings

READY_TIMEOUT_S = 30.0


def test_info_and_models_say_which_precision_serves_and_why(tiny_stance_dir, tmp_path):
    def loader(settings):
        return registry.load_initial(str(tiny_stance_dir), None, "onnx", "int8")

    app = create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3")), loader=loader)
    with TestClient(app) as client:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (ready := client.get("/readyz")).status_code != 200:  # the model loads in the background
            assert time.monotonic() < deadline, f"not ready after {READY_TIMEOUT_S:.0f} s: {ready.text}"
            time.sleep(0.05)
        info = client.get("/info").json()["runtime"]["precision"]
        stance = client.get("/v1/models").json()["models"][0]
    assert info == stance["precision"]
    assert info["requested"] == "int8" and info["precision"] in ("int8", "fp32") and info["why"]
    assert info["cpu"]["model"] and isinstance(info["cpu"]["flags"], list)
    if info["precision"] == "int8":
        assert info["gate"]["passed"] and "probe sentence labels" in info["gate"]["summary"]
    else:
        assert "the gate refused it" in info["refused"]["int8"]


def test_a_server_without_a_ladder_reports_fp32(tiny_analyzer, tmp_path):
    with TestClient(create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3")), tiny_analyzer)) as client:
        info = client.get("/info").json()["runtime"]["precision"]
    assert info["precision"] == "fp32" and info["why"] == "the torch reference runs fp32"


def test_a_bad_precision_setting_stops_serve_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("PRESSLENS_PRECISION", "fp16")
    settings.reload()
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "presslens: error: bad setting PRESSLENS_PRECISION='fp16': expected one of auto, fp32, bf16, int8"


def test_prepare_gates_the_requested_precision_and_says_what_serves(tiny_stance_dir, capsys):
    assert main(["prepare", "--model", str(tiny_stance_dir), "--precision", "int8"]) == 0
    out = capsys.readouterr().out
    assert "int8 (onnxruntime): " in out and "the gate: " in out
    assert "PRESSLENS_PRECISION=int8 serves " in out and "CPU: " in out


def test_batch_refuses_an_unknown_precision(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--precision", "fp16"])
    assert exc.value.code == 2 and "invalid choice: 'fp16'" in capsys.readouterr().err
