"""POST /v1/models/reload: admin only, inside the models folder only, bad checkpoints refused while the old
model keeps serving, a good one swapped in under concurrent requests without a failure. GET /v1/models."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest
import torch
from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.settings import Settings
from presslens.model.pipeline import Analyzer
from presslens.model.stance import StanceModel

ADMIN = {"Authorization": "Bearer admin-token-123"}


@pytest.fixture(scope="module")
def models_dir(tiny_encoder_dir, tiny_stance_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_stance_dir, root / "current")
    torch.manual_seed(1)
    good = StanceModel.new(str(tiny_encoder_dir))
    good.config.training = {"metrics": {"dev": {"macro_f1": 0.5}}}
    good.save_pretrained(root / "good")

    shutil.copytree(root / "good", root / "truncated")
    head = root / "truncated" / "head.safetensors"
    head.write_bytes(head.read_bytes()[: head.stat().st_size // 2])

    shutil.copytree(root / "good", root / "pickled")
    torch.save({"w": torch.zeros(1)}, root / "pickled" / "head.bin")

    shutil.copytree(root / "good", root / "wrongconfig")
    cfg = json.loads((root / "wrongconfig" / "config.json").read_text())
    cfg["dim"] = 7
    (root / "wrongconfig" / "config.json").write_text(json.dumps(cfg))

    shutil.copytree(root / "good", root / "garbage")
    (root / "garbage" / "head.safetensors").write_bytes(os.urandom(4096))

    (root / "empty").mkdir()
    outside = tmp_path_factory.mktemp("outside")
    shutil.copytree(root / "good", outside / "stance")
    os.symlink(outside / "stance", root / "escape")
    return root


@pytest.fixture()
def app(models_dir, tmp_path):
    settings = Settings(model=str(models_dir / "current"), models_dir=str(models_dir), admin_token="admin-token-123",
                        feedback_db=str(tmp_path / "fb.sqlite3"))
    return create_app(settings, Analyzer.load(models_dir / "current"))


def _version(c) -> str:
    return c.get("/readyz").json()["model"]


def test_models_lists_ids_versions_checksums_metrics(app, models_dir):
    with TestClient(app) as c:
        models = {m["id"]: m for m in c.get("/v1/models").json()["models"]}
    assert models["current"]["active"] and models["current"]["kind"] == "stance"
    assert set(models["current"]["checksums"]) == {"config.json", "head.safetensors"}
    import hashlib
    assert models["current"]["checksums"]["head.safetensors"] == \
        hashlib.sha256((models_dir / "current" / "head.safetensors").read_bytes()).hexdigest()
    assert models["good"]["active"] is False and models["good"]["metrics"] == {"dev": {"macro_f1": 0.5}}
    assert models["good"]["version"] != models["current"]["version"]
    assert models["presslens-summarizer-builtin"]["kind"] == "summarizer"


def test_reload_needs_an_admin_token(models_dir, tmp_path, tiny_analyzer):
    off = create_app(Settings(models_dir=str(models_dir), feedback_db=str(tmp_path / "a.sqlite3")), tiny_analyzer)
    with TestClient(off) as c:
        resp = c.post("/v1/models/reload", json={"checkpoint": "good"}, headers=ADMIN)
        assert resp.status_code == 403 and "PRESSLENS_ADMIN_TOKEN" in resp.json()["error"]


def test_reload_auth_and_paths(app):
    with TestClient(app) as c:
        before = _version(c)
        assert c.post("/v1/models/reload", json={"checkpoint": "good"}).status_code == 401
        assert c.post("/v1/models/reload", json={"checkpoint": "good"},
                      headers={"Authorization": "Bearer admin-token-12"}).status_code == 401
        cases = {
            "..": (403, "not inside the models folder"),
            "escape": (403, "not inside the models folder"),
            "missing": (404, "no checkpoint directory 'missing'"),
        }
        for name, (status, fragment) in cases.items():
            resp = c.post("/v1/models/reload", json={"checkpoint": name}, headers=ADMIN)
            assert resp.status_code == status and fragment in resp.json()["error"], (name, resp.text)
        resp = c.post("/v1/models/reload", json={"checkpoint": "/etc"}, headers=ADMIN)
        assert resp.status_code == 422 and "checkpoint" in resp.json()["error"]
        assert _version(c) == before


@pytest.mark.parametrize("name,fragment", [
    ("truncated", "not a readable safetensors file"),
    ("pickled", "pickle-based weights are not loaded"),
    ("wrongconfig", "does not match"),
    ("garbage", "not a readable safetensors file"),
    ("empty", "has no config.json"),
])
def test_bad_checkpoint_is_refused_and_the_old_model_serves(app, seed_texts, name, fragment):
    with TestClient(app) as c:
        before = _version(c)
        resp = c.post("/v1/models/reload", json={"checkpoint": name}, headers=ADMIN)
        assert resp.status_code == 422, resp.text
        assert "the current model keeps serving" in resp.json()["error"] and fragment in resp.json()["error"]
        assert _version(c) == before
        after = c.post("/v1/analyze", json={"articles": [{"text": seed_texts["001"]}]})
        assert after.status_code == 200 and after.json()["model"] == before
        assert 'presslens_model_reloads_total{outcome="invalid"} 1.0' in c.get("/metrics").text


def test_good_reload_under_concurrent_requests(app, seed_texts, models_dir):
    with TestClient(app) as c:
        before = _version(c)
        statuses, versions = [], []
        stop = threading.Event()

        def hammer(i):
            while not stop.is_set():
                r = c.post("/v1/analyze", json={"articles": [{"id": f"h{i}", "text": seed_texts["002"]}]})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.append(r.json()["model"])

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        threading.Event().wait(0.3)
        resp = c.post("/v1/models/reload", json={"checkpoint": "good"}, headers=ADMIN)
        threading.Event().wait(0.3)
        stop.set()
        for t in threads:
            t.join(30)
        assert resp.status_code == 200, resp.text
        after = _version(c)
        assert after != before and after.startswith("good@")
        assert resp.json()["models"][0]["id"] == "good"
        assert statuses and set(statuses) == {200}
        assert set(versions) <= {before, after} and versions[-1] == after
        # the new model answers: its probabilities are those of the good checkpoint
        got = c.post("/v1/analyze", json={"articles": [{"id": "x", "text": seed_texts["004"]}]}).json()
        from presslens.model.text import Article
        want = Analyzer.load(models_dir / "good").analyze([Article(seed_texts["004"], id="x")])[0].to_dict()
        assert got["results"][0] == json.loads(json.dumps(want))
        metrics = c.get("/metrics").text
        assert f'presslens_model_info{{kind="stance",version="{after.split("@")[1]}"}} 1.0' in metrics
        assert before.split("@")[1] not in metrics


def test_an_unexpected_fault_during_a_reload_is_a_logged_500_and_the_model_keeps_serving(app, monkeypatch, caplog):
    """A bad checkpoint is the caller's 422; an exception nobody anticipated is the server's fault."""
    from presslens.api import registry

    def broken(path, current):
        raise RuntimeError("disk controller hiccup")

    with TestClient(app) as c:
        before = _version(c)
        monkeypatch.setattr(registry, "load_replacement", broken)
        with caplog.at_level("ERROR", logger="presslens.api"):
            resp = c.post("/v1/models/reload", json={"checkpoint": "good"}, headers=ADMIN)
        assert resp.status_code == 500 and resp.json()["error_type"] == "reload_failed", resp.text
        assert "hiccup" not in resp.json()["error"]
        assert any("reload of 'good' failed" in r.getMessage() and "hiccup" in str(r.exc_info[1])
                   for r in caplog.records)
        assert _version(c) == before
        assert 'presslens_model_reloads_total{outcome="error"} 1.0' in c.get("/metrics").text


def _wait_warm(c, timeout: float = 60.0) -> None:
    """Until the serving model's warm-up (a background thread, reported in /info) has ended; fails on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        warm = c.get("/info").json().get("runtime", {}).get("warm") or {"state": "none"}
        if warm["state"] in ("done", "none", "failed"):
            return
        time.sleep(0.05)
    pytest.fail(f"the warm-up did not end in {timeout:.0f} s")


def test_a_reload_releases_the_previous_model(models_dir, tiny_encoder_dir, tmp_path):
    """After a reload to a checkpoint on other encoder weights, nothing keeps the old analyzer or its encoder
    (and so its compiled runtime) alive: weak references to them are dead once the garbage is collected."""
    import gc
    import weakref

    from transformers import BertModel

    other_encoder = tmp_path / "other-encoder"
    shutil.copytree(tiny_encoder_dir, other_encoder)
    model = BertModel.from_pretrained(str(other_encoder))
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(0.01)
    model.save_pretrained(str(other_encoder))
    StanceModel.new(str(other_encoder)).save_pretrained(models_dir / "other-weights")

    settings = Settings(model=str(models_dir / "current"), models_dir=str(models_dir),
                        admin_token="admin-token-123", feedback_db=str(tmp_path / "fb.sqlite3"))
    analyzer = Analyzer.load(models_dir / "current")
    old_analyzer, old_encoder = weakref.ref(analyzer), weakref.ref(analyzer.encoder)
    app = create_app(settings, analyzer)
    del analyzer
    with TestClient(app) as c:
        assert c.post("/v1/analyze", json={"articles": [{"text": "One sentence here. And another."}]}).status_code == 200
        _wait_warm(c)  # the warm-up thread holds the encoder it warms until it is done
        resp = c.post("/v1/models/reload", json={"checkpoint": "other-weights"}, headers=ADMIN)
        assert resp.status_code == 200, resp.text
        assert c.post("/v1/analyze", json={"articles": [{"text": "One sentence here. And another."}]}).status_code == 200
        _wait_warm(c)
        gc.collect()
        assert old_analyzer() is None and old_encoder() is None
        assert app.state.slot.current.analyzer.encoder is not None
