"""End to end: a real uvicorn server on an ephemeral loopback port with the packaged model, as `make serve`
runs it. The seeds posted to /v1/analyze come back exactly as the library (and the CLI) give them."""

from __future__ import annotations

import json

import httpx
import pytest
from presslens.api.app import create_app
from presslens.api.cli import main
from presslens.api.server import serve_in_thread
from presslens.api.settings import Settings
from presslens.model.pipeline import Analyzer
from presslens.model.text import Article

from tests.conftest import SEEDS

pytestmark = pytest.mark.integration


def test_real_server_answers_like_the_library_and_the_cli(tmp_path, capsys):
    app = create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3")))  # the default loader: packaged model
    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS}
    with serve_in_thread(app) as url:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":8000")
        resp = httpx.post(f"{url}/v1/analyze", json={"articles": [{"id": k, "text": t} for k, t in texts.items()]},
                          timeout=300)
        assert resp.status_code == 200, resp.text
        served = resp.json()
        ready = httpx.get(f"{url}/readyz").json()
        docs = httpx.get(f"{url}/docs")
        metrics = httpx.get(f"{url}/metrics").text
        models = httpx.get(f"{url}/v1/models").json()["models"]
        fb = httpx.post(f"{url}/v1/feedback", json={"text": served["results"][0]["sentences"][1]["text"],
                                                     "label": "neutral", "sentence_index": 1})

    expected = Analyzer.load().analyze([Article(t, id=k) for k, t in texts.items()])
    assert served["results"] == json.loads(json.dumps([r.to_dict() for r in expected]))
    for r in served["results"]:
        assert r["label"] in ("neutral", "editorial") and 0.5 <= r["confidence"] <= 1.0
        assert r["summary"] and all(s["text"] for s in r["summary"])

    assert main(["analyze", *map(str, SEEDS)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["label"], c["commentary"]) for c in cli] == \
        [(s["id"], s["label"], s["commentary"]) for s in served["results"]]

    assert ready["status"] == "ready" and ready["model"] == served["model"]
    assert served["model"].startswith("presslens-stance-default@")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert 'presslens_requests_total{method="POST",route="/v1/analyze",status="200"} 1.0' in metrics
    assert "presslens_batch_articles_sum 5.0" in metrics
    stance = next(m for m in models if m["kind"] == "stance")
    assert stance["metrics"]["dev"]["macro_f1"] > 0 and len(stance["checksums"]["head.safetensors"]) == 64
    assert fb.status_code == 201
