"""The one way in: a user's text or HTML becomes an ``Article``, or an ``IntakeError`` naming what is wrong.

Every front end goes through here (the HTTP API, ``presslens analyze`` / ``coverage`` and corpus runs with
``presslens batch``), so they refuse the same inputs with the same words: over the size limit
(``model.limits``), NUL characters, bytes that were not UTF-8, HTML with no article text in it, nothing left
after cleaning. The HTML extractor lives here too, so a corpus worker that reads HTML imports no web stack.

An exception raised inside the extractor itself is not the input's fault (trafilatura swallows junk markup
and answers "nothing found"): it is raised as ``ExtractorFault``, which a server reports as a logged 5xx.
"""

from __future__ import annotations

from collections.abc import Callable

from .limits import MAX_ARTICLE_CHARS, ArticleTooLong, check_article_length
from .text import Article

HtmlExtractor = Callable[[str], "tuple[str | None, str]"]


class IntakeError(ValueError):
    """Input that cannot become an article. ``kind`` names the problem for machines (``too_long``,
    ``binary``, ``undecodable``, ``empty``, ``no_text``); the message is one line for people."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class ExtractorFault(RuntimeError):
    """The HTML extractor failed on its own account (a bug or a broken install), not because of the input."""


def html_to_text(html: str) -> tuple[str | None, str]:
    """(page title, main text) of a web page, boilerplate removed by trafilatura; ``(None, "")`` when the
    page holds no article text. Raises ``ExtractorFault`` when the extractor itself fails."""
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                          include_tables=False, favor_precision=True)
    except Exception as exc:  # trafilatura handles junk markup itself; anything escaping it is a fault
        raise ExtractorFault(f"the HTML extractor failed: {type(exc).__name__}: {exc}") from exc
    if doc is None or not (doc.text or "").strip():
        return None, ""
    return (doc.title or None), doc.text


def check_body(body: str, max_chars: int = MAX_ARTICLE_CHARS) -> None:
    """The cheap checks on raw text or HTML, before any parsing: size, NUL characters, undecodable bytes."""
    if not body.strip():
        raise IntakeError("the article is empty", "empty")
    try:
        check_article_length(body, max_chars)
    except ArticleTooLong as exc:
        raise IntakeError(f"{exc} (PRESSLENS_MAX_CHARS)", "too_long") from None
    if "\x00" in body:
        raise IntakeError("binary data (NUL characters), not text", "binary")
    if any("\udc80" <= ch <= "\udcff" for ch in body):  # bytes a reader kept with surrogateescape
        raise IntakeError("undecodable bytes: the text is not UTF-8", "undecodable")


def to_article(*, text: str | None = None, html: str | None = None, id: str, title: str | None = None,
               max_chars: int = MAX_ARTICLE_CHARS, extract: HtmlExtractor = html_to_text,
               checked: bool = False) -> Article:
    """An article from exactly one of ``text`` or ``html``; ``IntakeError`` when there is none to analyse.

    ``checked``: ``check_body`` already ran on the request path (the API checks cheaply before queueing and
    builds the article later on its worker).
    """
    if (text is None) == (html is None):
        raise IntakeError("give exactly one of 'text' or 'html'", "empty")
    body = text if text is not None else html
    if not checked:
        check_body(body, max_chars)
    if html is not None:
        page_title, body = extract(html)
        if not body.strip():
            raise IntakeError("no article text found in the HTML", "no_text")
        title = title or page_title
    article = Article(body, id=id, title=title or None)
    if not article.sentences:
        raise IntakeError("no sentences left after cleaning (is it an article?)", "no_text")
    return article
