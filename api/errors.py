"""One error shape for every failure, ``{"error": ..., "error_type": ...}`` (as text-embeddings-inference).

Validation errors keep FastAPI's ``detail`` list beside a one-line summary. Malformed JSON is a 400, not a
422; anything unexpected is logged and answered with a 500 that names no internals (there should be none:
every bad input has its own 4xx).
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import Settings

log = logging.getLogger("presslens.api")


class ApiError(Exception):
    def __init__(self, status: int, message: str, error_type: str = "error", headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}


def error_response(status: int, message: str, error_type: str, headers: dict | None = None,
                   **extra) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type, **extra}, status_code=status,
                        headers=headers)


def _where(loc: tuple) -> str:
    parts = [str(p) for p in (loc[1:] if loc[:1] == ("body",) else loc)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def summarize_validation(errors: list[dict]) -> tuple[int, str, str]:
    """(status, one-line message, type) for pydantic errors; JSON that does not parse is a 400."""
    for e in errors:
        if e.get("type") == "json_invalid":
            ctx = e.get("ctx") or {}
            return 400, f"malformed JSON: {ctx.get('error', 'cannot parse the body')}", "malformed_json"
    msgs = []
    for e in errors[:5]:
        msg = e.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        msgs.append(f"{_where(tuple(e.get('loc', ())))}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "; ".join(msgs) + more, "validation"


def too_many_articles(given: int | str, limit: int) -> ApiError:
    """The one answer to too many articles, from the configurable check and from the schema's ceiling alike:
    a 422, as for any request the published schema (``maxItems``) refuses."""
    return ApiError(422, f"too many articles: {given} given, at most {limit} per request (PRESSLENS_MAX_ARTICLES)",
                    "too_many_articles")


def _over_ceiling(errors: list[dict]) -> dict | None:
    """The error of an article list over the schema's ceiling (``schemas.MAX_ARTICLES_CEILING``), if any."""
    return next((e for e in errors if e.get("type") == "too_long" and tuple(e.get("loc", ()))[-1:] == ("articles",)),
                None)


def _jsonable(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors[:20]:
        e = {k: v for k, v in e.items() if k in ("type", "loc", "msg")}
        out.append(json.loads(json.dumps(e, default=str)))
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.error_type, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in ctype.lower() and any(
                tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
            # e.g. curl -d sends form encoding: say what to send instead of "not a dictionary"
            return error_response(415, f"expected a JSON body with Content-Type: application/json, got "
                                       f"{ctype or 'no Content-Type'}", "unsupported_media_type")
        over = _over_ceiling(list(exc.errors()))
        if over is not None:  # the same answer as any other count over PRESSLENS_MAX_ARTICLES
            given = (over.get("ctx") or {}).get("actual_length") or f"more than {over['ctx']['max_length']}"
            err = too_many_articles(given, request.app.state.settings.max_articles)
            return error_response(err.status, err.message, err.error_type)
        status, message, kind = summarize_validation(list(exc.errors()))
        return error_response(status, message, kind, detail=_jsonable(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "malformed request body: expected a JSON object (Content-Type: application/json)"
        return error_response(exc.status_code, message, kind, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; it has been logged", "internal")


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length or while a chunked body streams in.

    An accepted body is buffered (up to the limit) and replayed to the app, so an oversized upload never
    reaches it. A refused body is still read and thrown away, up to ``drain`` bytes, before the 413 is
    sent: most clients (urllib, requests, httpx) send the whole body before reading the answer, and a
    server that closes a socket with unread data in it resets the connection, so they would see
    "Connection reset by peer" instead of the 413. Past ``drain`` bytes the answer is sent and the
    connection closed without reading on (a client still sending then may see the reset).
    """

    def __init__(self, app: ASGIApp, limit: int, drain: int | None = None):
        self.app = app
        self.limit = limit
        self.drain = Settings.model_fields["drain_body_bytes"].default if drain is None else drain

    async def _reject(self, receive: Receive, send: Send, got: str, finished: bool) -> None:
        if not finished:
            await self._discard(receive)
        body = json.dumps({"error": f"request body too large: {got}, at most {self.limit} bytes "
                                    "(PRESSLENS_MAX_BODY_BYTES)", "error_type": "payload_too_large"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def _discard(self, receive: Receive) -> None:
        """Read the rest of the request body (at most ``drain`` bytes) without keeping it."""
        read = 0
        while read <= self.drain:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size > self.limit:
                await self._reject(receive, send, f"{size} bytes", finished=False)
                return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            more = message.get("more_body", False)
            if total > self.limit:
                await self._reject(receive, send, f"more than {self.limit} bytes", finished=not more)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
