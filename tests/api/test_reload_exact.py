"""A reload answers exactly as `presslens analyze --model DIR` does for the same checkpoint.

The trap (issue #16): the serving model's encoder is fine-tuned but keeps its base's reference, and a `fast`
checkpoint names that same reference. Reusing the serving encoder by name runs the new head on the wrong
embeddings; keeping the old summarizer scores the new encoder's features with weights fitted to the old.
Here both models are tiny and random: a `partial` checkpoint (top layer changed) serves, with a summarizer
trained on its encoder inside it, and a `fast` checkpoint over the same base is reloaded.
"""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.cli import main
from presslens.api.settings import Settings
from presslens.model.stance import StanceModel, round_to_half
from presslens.model.summarizer import FEATURES, ExtractiveSummarizer, Scorer, ScorerConfig

from tests.conftest import SEEDS

ADMIN = {"Authorization": "Bearer admin-token-123"}


def _tuned_scorer(seed: int) -> Scorer:
    """Weights unlike the prior's, so which scorer ran shows in the summary."""
    rng = np.random.default_rng(seed)
    return Scorer(mean=[0.0] * len(FEATURES), scale=[1.0] * len(FEATURES),
                  layers=[{"weight": [rng.normal(size=len(FEATURES)).tolist()], "bias": [0.0]}])


@pytest.fixture(scope="module")
def models_dir(tiny_encoder_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("exact-models")
    torch.manual_seed(3)
    serving = StanceModel.new(str(tiny_encoder_dir), mode="partial")
    serving.config.train_layers = 1
    with torch.no_grad():  # "fine-tuned": the top layer moves, the reference stays the base's
        for p in serving.encoder.model.encoder.layer[-1].parameters():
            p.add_(0.5 * torch.randn_like(p))
    round_to_half(serving.encoder.model, 1)
    serving.save_pretrained(root / "serving")
    summ = ExtractiveSummarizer(ScorerConfig(single=_tuned_scorer(0), training={"data": ["synthetic"]},
                                             encoder_checksum=serving.encoder.checksum()))
    summ.save_pretrained(root / "serving" / "summarizer")

    torch.manual_seed(4)
    fast = StanceModel.new(str(tiny_encoder_dir), mode="fast")
    fast.save_pretrained(root / "fast")
    return root


def _wait_ready(c: TestClient) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = c.get("/readyz")
        if r.status_code == 200:
            return r.json()["model"]
        time.sleep(0.05)
    raise AssertionError(f"not ready: {r.text}")


def _cli(model_dir, capsys) -> dict:
    assert main(["analyze", "--model", str(model_dir), "--format", "json", str(SEEDS[4])]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    return result


def _assert_same(served: dict, cli: dict) -> None:
    assert served["label"] == cli["label"]
    assert served["commentary"] == cli["commentary"]
    assert [s["text"] for s in served["summary"]] == [s["text"] for s in cli["summary"]]
    assert [s["index"] for s in served["sentences"]] == [s["index"] for s in cli["sentences"]]
    diffs = [abs(a["probability"] - b["probability"]) for a, b in zip(served["sentences"], cli["sentences"], strict=True)]
    assert max(diffs) <= 1e-4, diffs
    assert abs(served["editorial_probability"] - cli["editorial_probability"]) <= 1e-4


def test_the_trap_is_set(models_dir):
    """Same reference, different weights: a reuse decided by name would take the wrong encoder."""
    serving = StanceModel.from_pretrained(models_dir / "serving")
    fast = json.loads((models_dir / "fast" / "config.json").read_text())
    assert serving.encoder.ref == fast["encoder"]
    assert serving.encoder.checksum() != fast["encoder_checksum"]


def test_reload_answers_as_the_cli_does(models_dir, tmp_path, capsys):
    text = SEEDS[4].read_text(encoding="utf-8")
    cli_fast, cli_serving = _cli(models_dir / "fast", capsys), _cli(models_dir / "serving", capsys)
    # the two checkpoints really differ on this article, so matching the right one means something
    assert [s["probability"] for s in cli_fast["sentences"]] != [s["probability"] for s in cli_serving["sentences"]]
    assert [s["text"] for s in cli_fast["summary"]] != [s["text"] for s in cli_serving["summary"]]

    settings = Settings(model=str(models_dir / "serving"), models_dir=str(models_dir), admin_token="admin-token-123",
                        feedback_db=str(tmp_path / "fb.sqlite3"))
    with TestClient(create_app(settings)) as c:  # the default loader, as `presslens serve` starts
        _wait_ready(c)
        served = c.post("/v1/analyze", json={"articles": [{"id": SEEDS[4].stem, "text": text}]}).json()
        _assert_same(served["results"][0], cli_serving)
        summ = next(m for m in c.get("/v1/models").json()["models"] if m["kind"] == "summarizer")
        assert summ["id"] == "serving/summarizer" and summ["reason"] == "fitted to this encoder, head and commentary decision"

        resp = c.post("/v1/models/reload", json={"checkpoint": "fast"}, headers=ADMIN)
        assert resp.status_code == 200, resp.text
        assert _wait_ready(c).startswith("fast@")
        served = c.post("/v1/analyze", json={"articles": [{"id": SEEDS[4].stem, "text": text}]}).json()
        _assert_same(served["results"][0], cli_fast)
        summ = next(m for m in resp.json()["models"] if m["kind"] == "summarizer")
        # the serving scorer was fitted to the other encoder's features: the prior (fitted to none) serves
        assert summ["id"] == "presslens-summarizer-builtin" and "was fitted to encoder weights" in summ["reason"]
        metrics = c.get("/metrics").text
        assert 'presslens_model_info{kind="summarizer",version="builtin"} 1.0' in metrics

        resp = c.post("/v1/models/reload", json={"checkpoint": "serving"}, headers=ADMIN)  # and back
        assert resp.status_code == 200, resp.text
        served = c.post("/v1/analyze", json={"articles": [{"id": SEEDS[4].stem, "text": text}]}).json()
        _assert_same(served["results"][0], cli_serving)


def test_a_given_summarizer_for_another_encoder_is_refused(models_dir, tmp_path):
    """PRESSLENS_SUMMARIZER fixed to the serving encoder's scorer: a reload onto another encoder cannot keep
    it, so it is refused and the old model keeps serving."""
    settings = Settings(model=str(models_dir / "serving"), summarizer=str(models_dir / "serving" / "summarizer"),
                        models_dir=str(models_dir), admin_token="admin-token-123",
                        feedback_db=str(tmp_path / "fb.sqlite3"))
    with TestClient(create_app(settings)) as c:
        before = _wait_ready(c)
        resp = c.post("/v1/models/reload", json={"checkpoint": "fast"}, headers=ADMIN)
        assert resp.status_code == 422
        assert "was fitted to encoder weights" in resp.json()["error"]
        assert "the current model keeps serving" in resp.json()["error"]
        assert _wait_ready(c) == before


def test_fast_checkpoint_reuses_only_the_encoder_with_its_weights(models_dir, tiny_encoder_dir):
    from presslens.model.runtime.loader import load_stance

    serving = load_stance(models_dir / "serving")
    fast = load_stance(models_dir / "fast", offered=serving.encoder)  # the loader decides what is reused
    assert fast.encoder is not serving.encoder
    again = load_stance(models_dir / "fast", offered=fast.encoder)
    assert again.encoder is fast.encoder  # the very weights it was trained on: reused, not loaded twice


def test_fast_checkpoint_whose_base_changed_is_refused(models_dir, tmp_path):
    from presslens.model.encoder import ModelLoadError

    shutil.copytree(models_dir / "fast", tmp_path / "fast")
    cfg = json.loads((tmp_path / "fast" / "config.json").read_text())
    cfg["encoder_checksum"] = "0" * 64  # as if the base package had shipped other weights since training
    (tmp_path / "fast" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="the head was trained on encoder weights 000000000000"):
        StanceModel.from_pretrained(tmp_path / "fast")
