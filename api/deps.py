"""Dependencies shared by the routes: auth, the running model, and turning request bodies into Articles."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from presslens.model.intake import ExtractorFault, IntakeError, check_body, to_article
from presslens.model.limits import ArticleTooLong, check_article_length
from presslens.model.pipeline import AnalyzeOptions
from presslens.model.text import Article

from .batching import BatchQueue, BatchResult, LoadedModel, QueueFull, ShuttingDown, approx_tokens
from .errors import ApiError, too_many_articles
from .schemas import AnalyzeOptionsIn, ArticleIn
from .settings import Settings

log = logging.getLogger("presslens.api")
_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def _token_matches(given: str, expected: str) -> bool:
    # Constant time: the comparison must not reveal how many leading characters were right.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_api_key(settings: SettingsDep, creds: Credentials) -> None:
    if settings.api_key is None:
        return
    if creds is None or not _token_matches(creds.credentials, settings.api_key.get_secret_value()):
        raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "unauthorized",
                       headers={"WWW-Authenticate": "Bearer"})


def require_admin(settings: SettingsDep, creds: Credentials) -> None:
    if settings.admin_token is None:
        raise ApiError(403, "admin endpoints are off: set PRESSLENS_ADMIN_TOKEN to enable them", "disabled")
    if creds is None or not _token_matches(creds.credentials, settings.admin_token.get_secret_value()):
        raise ApiError(401, "missing or wrong admin token: send 'Authorization: Bearer <token>'", "unauthorized",
                       headers={"WWW-Authenticate": "Bearer"})


def get_model(request: Request) -> LoadedModel:
    loaded = request.app.state.slot.current
    if loaded is None:
        error = request.app.state.slot.error
        if error:
            raise ApiError(503, f"the model failed to load: {error}", "model_unavailable")
        raise ApiError(503, "the model is still loading", "model_loading", headers={"Retry-After": "5"})
    return loaded


ModelDep = Annotated[LoadedModel, Depends(get_model)]


def get_queue(request: Request, _: ModelDep) -> BatchQueue:
    return request.app.state.queue


QueueDep = Annotated[BatchQueue, Depends(get_queue)]


def check_items(items: list[ArticleIn], settings: Settings) -> None:
    """The configurable limits: cheap checks, run on the request path before anything is queued."""
    if len(items) > settings.max_articles:
        raise too_many_articles(len(items), settings.max_articles)
    for i, item in enumerate(items):
        try:
            check_body(_body(item), settings.max_chars)
        except IntakeError as exc:
            raise intake_error(_name(i, item), exc) from None


def check_text_length(name: str, text: str, settings: Settings) -> None:
    """422 naming the setting when ``text`` is over the article size limit (PRESSLENS_MAX_CHARS), the
    ``maxLength`` the published schema gives it."""
    try:
        check_article_length(text, settings.max_chars)
    except ArticleTooLong as exc:
        raise ApiError(422, f"{name}: {exc} (PRESSLENS_MAX_CHARS)", "article_too_long") from None


def intake_error(name: str, exc: IntakeError) -> ApiError:
    """The 422 for input ``model.intake`` refused, naming the article and the problem (the size limit is
    the schema's ``maxLength``, so over it is a 422 like any other schema violation)."""
    if exc.kind == "too_long":
        return ApiError(422, f"{name}: {exc}", "article_too_long")
    return ApiError(422, f"{name}: {exc}", {"binary": "invalid_text", "undecodable": "invalid_text"}.get(
        exc.kind, "no_text"))


def build_articles(items: list[ArticleIn]) -> list[Article]:
    """Articles from checked items (``model.intake``: HTML extraction, cleaning, segmentation; CPU-bound).

    Bad input is a 4xx naming the article; a fault of the HTML extractor is logged and answered with a 500.
    """
    articles = []
    for i, item in enumerate(items):
        try:
            articles.append(to_article(text=item.text, html=item.html, id=item.id or f"article-{i}",
                                       title=item.title, checked=True))
        except IntakeError as exc:
            raise intake_error(_name(i, item), exc) from None
        except ExtractorFault:
            log.exception("HTML extraction failed on %s", _name(i, item))
            raise ApiError(500, "the HTML extractor failed on this page; the fault has been logged",
                           "extractor_failed") from None
    return articles


def estimate_item_tokens(items: list[ArticleIn]) -> int:
    """Encoder tokens the items will cost, before segmentation (:func:`api.batching.approx_tokens` per item).

    Only bounds a batch's size; HTML counts in full although its markup will be dropped.
    """
    return sum(approx_tokens(_body(item)) for item in items)


def _body(item: ArticleIn) -> str:
    return item.text if item.text is not None else item.html


def _name(i: int, item: ArticleIn) -> str:
    return f"articles[{i}]" + (f" ({item.id})" if item.id else "")


def to_options(req: AnalyzeOptionsIn) -> AnalyzeOptions:
    return AnalyzeOptions(summary_sentences=req.summary_sentences, summary_words=req.summary_words,
                          claims_only=req.claims_only)


async def run_analysis(request: Request, queue: BatchQueue, items: list[ArticleIn],
                       options: AnalyzeOptionsIn, kind: str = "analyze") -> BatchResult:
    """Articles in, results out: check the limits, queue for the batcher, await the result."""
    settings: Settings = request.app.state.settings
    check_items(items, settings)
    try:
        # Cleaning and segmentation run on the batch worker, between model calls (see BatchQueue.submit).
        future = queue.submit([], to_options(options), estimate_item_tokens(items), kind=kind,
                              prepare=functools.partial(build_articles, items), size=len(items))
    except QueueFull as exc:
        request.app.state.metrics.rejected.labels("queue_full").inc()
        raise ApiError(503, f"the service is busy ({exc}); retry shortly", "overloaded",
                       headers={"Retry-After": "1"}) from None
    except ShuttingDown as exc:
        raise ApiError(503, str(exc), "unavailable", headers={"Retry-After": "5"}) from None
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), settings.request_timeout_s)
    except asyncio.TimeoutError:
        request.app.state.metrics.rejected.labels("timeout").inc()
        raise ApiError(503, f"no result within {settings.request_timeout_s:g} s; the service is overloaded",
                       "timeout", headers={"Retry-After": "5"}) from None
    except ShuttingDown as exc:
        raise ApiError(503, str(exc), "unavailable", headers={"Retry-After": "5"}) from None
