"""api/errors.py directly: one-line validation messages, the JSON error shape, and the body-size limit."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from presslens.api.errors import ApiError, BodyLimitMiddleware, install_error_handlers, summarize_validation
from pydantic import BaseModel, Field


def test_summarize_validation_names_the_field_and_caps_the_list():
    errors = [{"type": "string_too_short", "loc": ("body", "articles", 0, "text"), "msg": "String too short"}]
    assert summarize_validation(errors) == (422, "articles[0].text: String too short", "validation")
    many = [{"type": "missing", "loc": ("body", f"f{i}"), "msg": "Field required"} for i in range(7)]
    status, message, kind = summarize_validation(many)
    assert status == 422 and kind == "validation"
    assert message.count("Field required") == 5 and message.endswith("(and 2 more)")
    assert summarize_validation([{"type": "value_error", "loc": ("body",), "msg": "Value error, no text"}])[1] \
        == "body: no text"


def test_malformed_json_is_a_400():
    status, message, kind = summarize_validation(
        [{"type": "json_invalid", "loc": ("body", 3), "msg": "JSON decode error", "ctx": {"error": "Expecting value"}}])
    assert (status, kind) == (400, "malformed_json") and message == "malformed JSON: Expecting value"


class _Body(BaseModel):
    text: str = Field(..., min_length=1)


def _app(limit: int = 64) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    def echo(body: _Body) -> dict:
        if body.text == "teapot":
            raise ApiError(418, "no coffee here", "teapot", headers={"X-Why": "tea"})
        if body.text == "boom":
            raise RuntimeError("a bug")
        return {"text": body.text}

    app.add_middleware(BodyLimitMiddleware, limit=limit)
    return TestClient(app, raise_server_exceptions=False)


def test_handlers_answer_with_one_json_shape():
    client = _app()
    assert client.post("/echo", json={"text": "hi"}).json() == {"text": "hi"}
    r = client.post("/echo", json={"text": ""})
    assert r.status_code == 422 and r.json()["error_type"] == "validation" and "text" in r.json()["error"]
    r = client.post("/echo", json={"text": "teapot"})
    assert (r.status_code, r.json(), r.headers["x-why"]) == (418, {"error": "no coffee here", "error_type": "teapot"}, "tea")
    r = client.post("/echo", data="text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = client.post("/echo", json={"text": "boom"})
    assert r.status_code == 500 and r.json() == {"error": "internal error; it has been logged", "error_type": "internal"}
    assert client.get("/nowhere").json()["error_type"] == "not_found"


def test_body_limit_by_length_and_while_streaming():
    client = _app(limit=64)
    r = client.post("/echo", content=json.dumps({"text": "x" * 100}), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error_type"] == "payload_too_large" and "at most 64 bytes" in r.json()["error"]

    def chunks():
        yield b'{"text": "'
        yield b"y" * 80
        yield b'"}'

    r = client.post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "more than 64 bytes" in r.json()["error"]
    assert client.post("/echo", json={"text": "short"}).json() == {"text": "short"}
