"""One set of limits, and every client gets the 413 for an oversized body.

The body limit is tested against a real uvicorn with the standard library's clients: urllib (and clients
like it) send the whole body before reading, so a server that answers early and closes on unread data
resets the connection instead of delivering the 413 (issue #16). The other limits come from ``Settings``
alone: the checks, their messages, /info, the published OpenAPI schema and the README say the same numbers.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.server import serve_in_thread
from presslens.api.settings import Settings
from presslens.model.limits import MAX_ARTICLE_CHARS, ArticleTooLong, check_article_length

README = Path(__file__).resolve().parents[2] / "README.md"
TEN_MB = 10_000_000


def _settings(tmp_path, **kw) -> Settings:
    return Settings(feedback_db=str(tmp_path / "feedback.sqlite3"), **kw)


@pytest.fixture(scope="module")
def server(tiny_analyzer, tmp_path_factory):
    settings = _settings(tmp_path_factory.mktemp("limits"), max_body_bytes=1_000_000)
    with serve_in_thread(create_app(settings, tiny_analyzer)) as url:
        yield url


def _big_json(size: int) -> bytes:
    body = json.dumps({"articles": [{"text": "x" * size}]}).encode()
    assert len(body) > size
    return body


def test_urllib_gets_the_413_for_a_10_mb_body(server):
    req = urllib.request.Request(f"{server}/v1/analyze", data=_big_json(TEN_MB),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:  # not ConnectionResetError / URLError
        urllib.request.urlopen(req, timeout=60)
    assert err.value.code == 413
    body = json.loads(err.value.read())
    assert body["error_type"] == "payload_too_large"
    assert body["error"].startswith("request body too large: 100000") and "at most 1000000 bytes" in body["error"]
    assert "PRESSLENS_MAX_BODY_BYTES" in body["error"]


def test_a_chunked_10_mb_body_gets_the_413_too(server):
    """No Content-Length: the limit trips while the body streams in, and the rest is still read."""
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    payload = _big_json(TEN_MB)
    chunks = (payload[i : i + 65536] for i in range(0, len(payload), 65536))
    conn.request("POST", "/v1/analyze", body=chunks, headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 413 and "more than 1000000 bytes" in body["error"]


def test_the_server_answers_normally_after_refusing(server, seed_texts):
    for _ in range(2):
        req = urllib.request.Request(f"{server}/v1/analyze", data=_big_json(2_000_000),
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=60)
        assert err.value.code == 413
    req = urllib.request.Request(f"{server}/v1/analyze", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"articles": [{"text": seed_texts["001"]}]}).encode())
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200 and json.loads(resp.read())["results"][0]["label"] in ("neutral", "editorial")


# -- one source of truth ------------------------------------------------------------------------------
@pytest.fixture()
def client(tiny_analyzer, tmp_path):
    with TestClient(create_app(_settings(tmp_path), tiny_analyzer)) as c:  # the default limits
        yield c


def test_a_3_mb_text_is_refused_at_the_configured_limit(client):
    """It used to get the schema's own 422 'at most 2000000 characters' while /info said 100,000."""
    resp = client.post("/v1/analyze", json={"articles": [{"text": "word " * 600_000}]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"] == (f"articles[0]: 3000000 characters, at most {MAX_ARTICLE_CHARS} per article "
                                    "(PRESSLENS_MAX_CHARS)")
    assert client.get("/info").json()["limits"]["max_chars"] == MAX_ARTICLE_CHARS


def test_more_articles_than_the_schema_allows_get_a_422_naming_the_limit(client):
    """maxItems is 64 in the published schema, so 65 articles are a schema violation: 422 (a fuzzer holds the
    server to it), with the limit and its setting named, as past the pydantic ceiling."""
    assert client.get("/openapi.json").json()["components"]["schemas"]["AnalyzeRequest"]["properties"][
        "articles"]["maxItems"] == 64
    for n in (65, 10_001):
        resp = client.post("/v1/analyze", json={"articles": [{"text": "Hi there."}] * n})
        assert resp.status_code == 422, (n, resp.text)
        assert resp.json()["error_type"] == "too_many_articles"
        assert re.fullmatch(r"too many articles: (\d+|more than 10000) given, at most 64 per request "
                            r"\(PRESSLENS_MAX_ARTICLES\)", resp.json()["error"]), resp.json()


def test_schema_info_and_checks_follow_the_settings(tiny_analyzer, tmp_path):
    settings = _settings(tmp_path, max_chars=150_000, max_articles=3)
    with TestClient(create_app(settings, tiny_analyzer)) as c:
        spec = c.get("/openapi.json").json()["components"]["schemas"]
        assert spec["ArticleIn"]["properties"]["text"]["maxLength"] == 150_000
        assert spec["ArticleIn"]["properties"]["html"]["maxLength"] == 150_000
        assert spec["FeedbackIn"]["properties"]["text"]["maxLength"] == 150_000
        assert spec["AnalyzeRequest"]["properties"]["articles"]["maxItems"] == 3
        assert spec["CoverageRequest"]["properties"]["articles"]["maxItems"] == 3
        assert c.get("/info").json()["limits"] == {"max_body_bytes": 4 * 1024 * 1024, "max_articles": 3,
                                                   "max_chars": 150_000}
        # raised above the default, the limit really is the setting: no hidden ceiling below it
        ok = c.post("/v1/feedback", json={"text": "a" * 140_000, "label": "neutral"})
        assert ok.status_code == 201, ok.text
        over = c.post("/v1/feedback", json={"text": "a" * 150_001, "label": "neutral"})
        assert over.status_code == 422
        assert over.json()["error"] == "text: 150001 characters, at most 150000 per article (PRESSLENS_MAX_CHARS)"
        four = c.post("/v1/analyze", json={"articles": [{"text": "Hi there."}] * 4})
        assert four.status_code == 422 and "4 given, at most 3 per request" in four.json()["error"]


def test_the_readme_states_the_settings_defaults():
    fields = Settings.model_fields
    row = next(ln for ln in README.read_text().splitlines() if ln.startswith("| `MAX_BODY_BYTES`"))
    mib = fields["max_body_bytes"].default // (1024 * 1024)
    assert f"| {mib} MiB, {fields['max_articles'].default}, {fields['max_chars'].default:,} |" in row, row
    assert fields["max_chars"].default == MAX_ARTICLE_CHARS


def test_the_article_limit_is_importable_from_the_model_layer():
    check_article_length("x" * MAX_ARTICLE_CHARS)
    with pytest.raises(ArticleTooLong, match=f"^{MAX_ARTICLE_CHARS + 1} characters, at most {MAX_ARTICLE_CHARS} per article$"):
        check_article_length("x" * (MAX_ARTICLE_CHARS + 1))
