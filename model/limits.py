"""The size limit on one article, shared by every way in: the API, the CLI and corpus runs (`presslens batch`).

The Analyzer's cost grows with an article's length (segmentation, one encoder pass over every sentence,
the summarizer's features), and no news article comes near the limit, so anything longer is refused with a
message rather than analysed for minutes. The API's ``PRESSLENS_MAX_CHARS`` defaults to it (and may lower or
raise it per deployment); a front end with no setting of its own uses it as it is.
"""

from __future__ import annotations

#: characters in one article: its text, or the HTML its text is extracted from
MAX_ARTICLE_CHARS = 100_000
#: the most articles the service merges into one model call (PRESSLENS_BATCH_MAX_ARTICLES defaults to it; the
#: bench's per-stage profile replays batches of up to this many)
BATCH_MAX_ARTICLES = 32


class ArticleTooLong(ValueError):
    """An article over the size limit; the message says how long it is and what the limit is."""


def check_article_length(text: str, limit: int = MAX_ARTICLE_CHARS) -> None:
    """Raise ``ArticleTooLong`` ("N characters, at most LIMIT per article") when ``text`` is over ``limit``."""
    if len(text) > limit:
        raise ArticleTooLong(f"{len(text)} characters, at most {limit} per article")
