"""The HTTP service against a tiny random model: results equal the library's, every bad input is a 4xx
with a message, limits, auth, readiness, metrics."""

from __future__ import annotations

import json
import random
import threading

import pytest
from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.settings import Settings
from presslens.model.encoder import ModelLoadError
from presslens.model.pipeline import AnalyzeOptions
from presslens.model.text import Article


def _settings(tmp_path, **kw) -> Settings:
    return Settings(feedback_db=str(tmp_path / "feedback.sqlite3"), **kw)


@pytest.fixture()
def client(tiny_analyzer, tmp_path):
    app = create_app(_settings(tmp_path, max_chars=20_000, max_body_bytes=1_000_000), tiny_analyzer)
    with TestClient(app) as c:
        yield c


def test_analyze_returns_what_the_library_returns(client, tiny_analyzer, seed_texts):
    keys = ("000", "002", "004")
    resp = client.post("/v1/analyze", json={"articles": [{"id": k, "text": seed_texts[k]} for k in keys],
                                            "summary_sentences": 2})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    expected = [r.to_dict() for r in tiny_analyzer.analyze([Article(seed_texts[k], id=k) for k in keys],
                                                           AnalyzeOptions(summary_sentences=2))]
    assert body["results"] == json.loads(json.dumps(expected))
    assert body["model"].startswith("in-memory@")
    for r in body["results"]:
        assert r["label"] in ("neutral", "editorial") and len(r["summary"]) == 2
        assert r["commentary"] == [s["index"] for s in r["sentences"] if s["commentary"]]


def test_claims_only_and_word_budget_are_passed_through(client, tiny_analyzer, seed_texts):
    req = {"articles": [{"text": seed_texts["004"]}], "summary_sentences": None, "summary_words": 40,
           "claims_only": True}
    got = client.post("/v1/analyze", json=req).json()["results"][0]
    want = tiny_analyzer.analyze([Article(seed_texts["004"], id="article-0")],
                                 AnalyzeOptions(summary_sentences=None, summary_words=40, claims_only=True))[0]
    assert got == json.loads(json.dumps(want.to_dict()))
    assert got["id"] == "article-0"
    assert not any(s["commentary"] for s in got["summary"])


def test_a_word_budget_alone_is_not_capped_at_three_sentences(client, seed_texts):
    got = client.post("/v1/analyze", json={"articles": [{"text": seed_texts["001"]}], "summary_words": 150}).json()
    summary = got["results"][0]["summary"]
    assert len(summary) > 3 and sum(len(s["text"].split()) for s in summary) <= 150
    capped = client.post("/v1/analyze", json={"articles": [{"text": seed_texts["001"]}], "summary_words": 150,
                                              "summary_sentences": 3}).json()["results"][0]["summary"]
    assert len(capped) == 3


def test_summarize_and_classify_are_the_two_halves(client, seed_texts):
    req = {"articles": [{"id": "a", "title": "Talks in London", "text": seed_texts["001"]}]}
    full = client.post("/v1/analyze", json=req).json()["results"][0]
    summ = client.post("/v1/summarize", json=req).json()["results"][0]
    cls = client.post("/v1/classify", json=req).json()["results"][0]
    assert summ == {"id": "a", "title": "Talks in London", "summary": full["summary"]}
    assert full["title"] == "Talks in London"
    assert set(cls) == {"id", "title", "label", "confidence", "editorial_probability", "commentary", "sentences"}
    assert cls["label"] == full["label"] and cls["sentences"] == full["sentences"]


PAGE = """<!doctype html><html><head><title>Ministers meet in London | Example News</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sub">Subscribe now</a></nav>
<article><h1>Ministers meet in London</h1>
<p>Foreign ministers met in London on Friday to discuss the sanctions, officials said in a statement.</p>
<p>The talks lasted four hours and ended without an agreement, according to two diplomats present.</p>
<p>A further meeting is planned for next week in Geneva, the foreign ministry said on Saturday.</p>
</article>
<aside><h3>Most read</h3><ul><li><a href="/x">Celebrity chef opens restaurant</a></li></ul></aside>
<footer>Copyright 2024 Example News. All rights reserved. Cookie settings.</footer></body></html>"""


def test_html_is_reduced_to_the_main_text(client):
    resp = client.post("/v1/analyze", json={"articles": [{"id": "page", "html": PAGE}]})
    assert resp.status_code == 200, resp.text
    r = resp.json()["results"][0]
    texts = [s["text"] for s in r["sentences"]]
    assert r["title"] == "Ministers meet in London"
    assert any("four hours" in t for t in texts) and any("Geneva" in t for t in texts)
    joined = " ".join(texts)
    for furniture in ("Subscribe", "Celebrity chef", "Copyright", "Most read", "Home"):
        assert furniture not in joined


TEN_MB = b'{"articles": [{"text": "' + b"a" * (10 * 1024 * 1024) + b'"}]}'
BAD_INPUTS = [
    # (name, body, content type, status, message fragment)
    ("malformed JSON", b'{"articles": [', "application/json", 400, "malformed JSON"),
    ("binary junk", bytes(range(256)) * 4, "application/json", 400, "malformed"),
    ("JSON array", b"[]", "application/json", 422, "body: Input should be a valid dictionary"),
    ("JSON null", b"null", "application/json", 422, "body: Input should be a valid dictionary"),
    ("no articles", b'{"articles": []}', "application/json", 422, "articles: List should have at least 1 item"),
    ("articles not a list", b'{"articles": "x"}', "application/json", 422, "articles: Input should be a valid list"),
    ("text wrong type", b'{"articles": [{"text": 5}]}', "application/json", 422, "articles[0].text: Input should be a valid string"),
    ("empty text", b'{"articles": [{"text": ""}]}', "application/json", 422, "articles[0]: the article is empty"),
    ("blank text", b'{"articles": [{"text": "  \\n "}]}', "application/json", 422, "the article is empty"),
    ("text and html", b'{"articles": [{"text": "a b.", "html": "<p>x</p>"}]}', "application/json", 422, "exactly one of 'text' or 'html'"),
    ("neither text nor html", b'{"articles": [{"id": "x"}]}', "application/json", 422, "exactly one of 'text' or 'html'"),
    ("unknown field", b'{"articles": [{"body": "Hello there."}]}', "application/json", 422, "articles[0].body: Extra inputs are not permitted"),
    ("summary length 0", b'{"articles": [{"text": "Hi there."}], "summary_sentences": 0}', "application/json", 422, "summary_sentences: Input should be greater than or equal to 1"),
    ("claims_only wrong type", b'{"articles": [{"text": "Hi there."}], "claims_only": "maybe"}', "application/json", 422, "claims_only: Input should be a valid boolean"),
    ("id too long", json.dumps({"articles": [{"id": "x" * 201, "text": "Hi there."}]}).encode(), "application/json", 422, "articles[0].id: String should have at most 200 characters"),
    ("NUL characters", b'{"articles": [{"text": "abc\\u0000def. More text here."}]}', "application/json", 422, "binary data"),
    ("only punctuation", b'{"articles": [{"text": "... --- !!!"}]}', "application/json", 422, "no sentences left after cleaning"),
    ("HTML without text", b'{"articles": [{"html": "<html><body><img src=x></body></html>"}]}', "application/json", 422, "no article text found in the HTML"),
    ("HTML with only a menu", b'{"articles": [{"html": "<html><body><nav>Home</nav></body></html>"}]}', "application/json", 422, "no sentences left after cleaning"),
    ("article too long", json.dumps({"articles": [{"text": "word. " * 5000}]}).encode(), "application/json", 422, "at most 20000 per article"),
    ("1,000 articles", json.dumps({"articles": [{"text": "Hi there."}] * 1000}).encode(), "application/json", 422, "too many articles: 1000 given, at most 64"),
    ("10 MB body", TEN_MB, "application/json", 413, "request body too large"),
    ("form encoding (curl -d)", b"articles=x", "application/x-www-form-urlencoded", 415, "expected a JSON body"),
]


@pytest.mark.parametrize("name,body,ctype,status,fragment", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_a_4xx_with_a_message(client, name, body, ctype, status, fragment):
    resp = client.post("/v1/analyze", content=body, headers={"Content-Type": ctype})
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert fragment in data["error"], data
    assert data["error_type"]


def test_random_junk_never_gets_a_500(client):
    rng = random.Random(7)
    values = [None, True, 3, -1, 1e308, "x", "", [], {}, [1, 2], {"text": None}, "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]
    for _ in range(60):
        kind = rng.random()
        if kind < 0.3:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind < 0.6:
            body = json.dumps({"articles": [{rng.choice(["text", "html", "id", "title"]): rng.choice(values)}
                                            for _ in range(rng.randrange(0, 3))],
                               rng.choice(["summary_sentences", "claims_only", "summary_words"]): rng.choice(values)}).encode()
        else:
            body = json.dumps(rng.choice(values)).encode()
        for path in ("/v1/analyze", "/v1/summarize", "/v1/classify", "/v1/feedback", "/v1/models/reload"):
            resp = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert 400 <= resp.status_code < 500, (path, body[:80], resp.status_code, resp.text)
            assert resp.json()["error"]


def test_unknown_route_and_method(client):
    assert client.get("/v1/nope").json()["error_type"] == "not_found"
    resp = client.get("/v1/analyze")
    assert resp.status_code == 405 and resp.json()["error"] == "Method Not Allowed"


def test_metrics_count_requests_batches_and_model(client, seed_texts):
    client.post("/v1/analyze", json={"articles": [{"text": seed_texts["003"]}, {"text": seed_texts["001"]}]})
    client.post("/v1/analyze", content=b"{", headers={"Content-Type": "application/json"})
    text = client.get("/metrics").text
    assert 'presslens_requests_total{method="POST",route="/v1/analyze",status="200"} 1.0' in text
    assert 'presslens_requests_total{method="POST",route="/v1/analyze",status="400"} 1.0' in text
    assert 'presslens_request_duration_seconds_count{method="POST",route="/v1/analyze"} 2.0' in text
    assert "presslens_batch_articles_sum 2.0" in text
    assert "presslens_queue_depth 0.0" in text
    version = client.get("/readyz").json()["model"].split("@")[1]
    assert f'presslens_model_info{{kind="stance",version="{version}"}} 1.0' in text


def test_docs_openapi_info(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/v1/analyze", "/v1/summarize", "/v1/classify", "/v1/feedback", "/v1/models", "/v1/models/reload",
                 "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"], path
    article = spec["components"]["schemas"]["ArticleIn"]["properties"]
    assert article["id"]["anyOf"][0]["maxLength"] == 200
    info = client.get("/info").json()
    assert info["limits"] == {"max_body_bytes": 1_000_000, "max_articles": 64, "max_chars": 20_000}
    from presslens.model.settings import current

    assert info["settings"] == current().to_dict() and info["settings"]["runtime"] in ("auto", "onnx", "torch")


def test_every_published_request_example_is_accepted(client):
    """A client (or a fuzzer) sending the schema's own example gets a 200: the coverage example once held one
    article where the schema asks for two."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for path, component in (("/v1/analyze", "AnalyzeRequest"), ("/v1/coverage", "CoverageRequest")):
        examples = schemas[component]["examples"]
        assert examples
        for example in examples:
            assert len(example["articles"]) >= schemas[component]["properties"]["articles"]["minItems"]
            resp = client.post(path, json=example)
            assert resp.status_code == 200, (path, resp.text)


def test_a_fault_in_the_html_extractor_is_a_logged_500_not_the_clients_error(client, monkeypatch, caplog):
    import trafilatura

    def broken(*a, **k):
        raise RuntimeError("lxml internal error")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    with caplog.at_level("ERROR", logger="presslens.api"):
        resp = client.post("/v1/analyze", json={"articles": [{"id": "p", "html": "<p>Kerry met Lavrov.</p>"}]})
    assert resp.status_code == 500 and resp.json()["error_type"] == "extractor_failed", resp.text
    assert "lxml" not in resp.json()["error"]  # internals stay in the log
    logged = [r for r in caplog.records if "HTML extraction failed" in r.getMessage()]
    assert logged and "lxml internal error" in str(logged[0].exc_info[1])


def test_readyz_fails_until_the_model_has_loaded(tiny_analyzer, tmp_path, seed_texts):
    from presslens.api.registry import describe_given

    gate = threading.Event()

    def slow_loader(settings):
        gate.wait(30)
        return describe_given(tiny_analyzer, settings)

    with TestClient(create_app(_settings(tmp_path), loader=slow_loader)) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        resp = c.get("/readyz")
        assert resp.status_code == 503 and "still loading" in resp.json()["error"]
        resp = c.post("/v1/analyze", json={"articles": [{"text": seed_texts["000"]}]})
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        gate.set()
        for _ in range(200):
            if c.get("/readyz").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert c.get("/readyz").json()["status"] == "ready"
        assert c.post("/v1/analyze", json={"articles": [{"text": seed_texts["000"]}]}).status_code == 200


def test_a_model_that_fails_to_load_is_reported(tmp_path):
    def broken(settings):
        raise ModelLoadError("stance checkpoint /nowhere is not a directory")

    with TestClient(create_app(_settings(tmp_path), loader=broken)) as c:
        for _ in range(100):
            resp = c.get("/readyz")
            if "failed" in resp.json()["error"]:
                break
            threading.Event().wait(0.05)
        assert resp.status_code == 503
        assert resp.json()["error"] == "the model failed to load: stance checkpoint /nowhere is not a directory"
        assert c.get("/healthz").status_code == 200


def test_api_key(tiny_analyzer, tmp_path, seed_texts):
    app = create_app(_settings(tmp_path, api_key="s3cret"), tiny_analyzer)
    req = {"articles": [{"text": seed_texts["002"]}]}
    with TestClient(app) as c:
        assert c.post("/v1/analyze", json=req).status_code == 401
        wrong = c.post("/v1/analyze", json=req, headers={"Authorization": "Bearer s3cre"})
        assert wrong.status_code == 401 and "API key" in wrong.json()["error"]
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        assert c.post("/v1/analyze", json=req, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/v1/models").status_code == 401
        for open_path in ("/healthz", "/readyz", "/metrics", "/", "/docs"):
            assert c.get(open_path).status_code == 200, open_path


def test_cors_is_off_unless_configured(tiny_analyzer, tmp_path):
    pre = {"Origin": "https://newsroom.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(_settings(tmp_path), tiny_analyzer)) as c:
        assert "access-control-allow-origin" not in c.options("/v1/analyze", headers=pre).headers
    app = create_app(_settings(tmp_path, cors_origins=["https://newsroom.example"]), tiny_analyzer)
    with TestClient(app) as c:
        resp = c.options("/v1/analyze", headers=pre)
        assert resp.headers["access-control-allow-origin"] == "https://newsroom.example"


def test_web_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "presslens" in page.text and "/static/app.js" in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/v1/analyze" in js.text
    assert "innerHTML" not in js.text  # article text is rendered with textContent only


def test_coverage_returns_what_the_library_returns(client, tiny_analyzer, seed_texts):
    keys = ("000", "001", "003")
    resp = client.post("/v1/coverage", json={"articles": [{"id": k, "text": seed_texts[k]} for k in keys],
                                             "summary_sentences": 4})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    want = tiny_analyzer.coverage([Article(seed_texts[k], id=k) for k in keys],
                                  AnalyzeOptions(summary_sentences=4)).to_dict()
    assert body == {"model": body["model"], **json.loads(json.dumps(want))}
    assert [a["id"] for a in body["articles"]] == list(keys)
    # each article's analysis is the one /v1/analyze returns: the web page needs only this one call
    alone = client.post("/v1/analyze", json={"articles": [{"id": k, "text": seed_texts[k]} for k in keys],
                                             "summary_sentences": 4}).json()["results"]
    assert body["articles"] == alone and all(a["sentences"] for a in alone)
    assert 1 <= len(body["summary"]) <= 4 and set(body["unique"]) <= set(keys)
    one = client.post("/v1/coverage", json={"articles": [{"text": seed_texts["000"]}]})
    assert one.status_code == 422 and "articles: List should have at least 2 items" in one.json()["error"]
