"""Articles, cleaning of scraped page furniture, and sentence segmentation with character offsets.

Cleaning works line by line with generic rules (no seed strings): short lines without sentence
punctuation are navigation or captions, known furniture phrases are dropped wherever they stand, and
related-link text that a scraper ran into a sentence ("KerryJohn Forbes KerryWarren taps ... MORE") is cut
out. The first real line is kept as the headline, a sentence of its own.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

# Whole lines that are page furniture whatever their length.
_FURNITURE_LINE = re.compile(
    r"""^(?:
        advertisement|advertising|sponsored(?:\s+content)?|
        share(?:\s+this(?:\s+(?:story|article|page))?)?(?:\s+on\s+\w+)?|
        (?:latest|top|more|related)\s+(?:headlines|stories|news|articles|coverage|links)|
        related(?:\s+content)?|read\s+more.*|continue\s+reading.*|click\s+here.*|
        respond\s+to\s+this\s+(?:story|article)|leave\s+a\s+comment|comments?|
        (?:sign\s+up|subscribe)\b.*|follow\s+us\b.*|
        (?:photo|image|video|picture)(?:\s+credit)?\s*:.*|
        skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|print(?:\s+this)?|e-?mail(?:\s+this)?
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Footers recognised anywhere in a line: copyright notices and publishers' standards blurbs.
_FOOTER = re.compile(
    r"(?:^|\s)(?:copyright\s+(?:©\s*)?\d{4}|©\s*\d{4}|\(c\)\s*\d{4}|all\s+rights\s+reserved"
    r"|trust\s+principles|our\s+standards\s*:|editorial\s+standards\s*:)",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(?:by|from)\s+[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|&|de|van|von))*\s*$", re.IGNORECASE)
_URL_LINE = re.compile(r"^\s*(?:https?://|www\.)\S+\s*$", re.IGNORECASE)
_BRACKET_LINE = re.compile(r"^\s*[\[(][^\])]{0,80}[\])]\s*$")
_BULLET = re.compile(r"^\s*(?:[*•·▪‣◦-]|\d{1,2}[.)])\s+")
# A lowercase letter glued to a capital starts a run of link titles; the link widget ends in "MORE".
_LINK_RUN = re.compile(
    r"(?<=[a-z])[A-Z](?:[^.!?\n]|(?<=\b[A-Z])\.|\.(?=\w)){0,400}?\s(?:MORE|More|READ MORE)\b(?=\s|$)"
)
_DATE_TOKEN = re.compile(
    r"^(?:(?:mon|tue|tues|wed|wednes|thu|thurs|fri|sat|satur|sun)(?:day)?|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|"
    r"apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"gmt|utc|[ecmp][sd]?t|am|pm|a\.m|p\.m|updated|published|posted|\d[\d:./-]*)$",
    re.IGNORECASE,
)
# A photo credit glued in front of a dateline: "State Dept photo(WASHINGTON) — ..."
_CREDIT_PREFIX = re.compile(r"^[\w .,'’-]{0,40}\b(?:photo|image|picture)s?\s*(?=\([A-Z])", re.IGNORECASE)
_SENT_END = re.compile(r"""[.!?…]["'”’)\]]*\s*$""")
_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a cleaned article; ``start``/``end`` index into ``Article.clean_text``; ``paragraph``
    numbers the blank-line-separated blocks of ``clean_text`` (the headline, when there is one, is block 0):
    the input's paragraphs (lines of text, ``<p>`` of HTML), so a reader can be shown the article as written."""

    index: int
    text: str
    start: int
    end: int
    is_title: bool = False
    paragraph: int = 0


@dataclass
class Article:
    """A news article as given by a user: ``text`` is raw and may carry scraped page furniture."""

    text: str
    id: str = "article"
    title: str | None = None
    clean_text: str = field(init=False, default="")
    sentences: list[Sentence] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError("article text must be a string")
        self.clean_text, self.sentences = segment(self.text, title=self.title)

    @property
    def body_sentences(self) -> list[Sentence]:
        return [s for s in self.sentences if not s.is_title]


def normalize(text: str) -> str:
    """Unicode NFC, unified line breaks, no control characters, collapsed runs of spaces."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = re.sub(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+", " ", text)
    return text


def _words(line: str) -> int:
    return len(_WORD.findall(line))


def is_furniture_phrase(line: str) -> bool:
    """True for a line that is furniture by what it says (ads, share buttons, footers, bylines, links)."""
    s = line.strip()
    return bool(
        _FURNITURE_LINE.match(s) or _FOOTER.search(s) or _URL_LINE.match(s) or _BRACKET_LINE.match(s)
        or (_BYLINE.match(s) and _words(s) <= 6) or _is_dateline(s)
    )


def _is_dateline(line: str) -> bool:
    """A line made mostly of weekdays, months, dates and times: a timestamp, not prose."""
    tokens = [t.strip(",;()") for t in line.split()]
    tokens = [t for t in tokens if t]
    if not tokens or len(tokens) > 10 or _SENT_END.search(line):
        return False
    return sum(bool(_DATE_TOKEN.match(t)) for t in tokens) >= max(2, (len(tokens) + 1) // 2)


def is_furniture(line: str) -> bool:
    """True for a line that is page furniture rather than article prose."""
    s = line.strip()
    if not s or is_furniture_phrase(s):
        return True
    # Short lines without sentence punctuation: navigation, datelines, captions, section labels.
    return _words(s) <= 6 and not _SENT_END.search(s)


# A line this long is prose: a furniture phrase inside it costs that sentence, not the whole line.
_PROSE_WORDS = 40


def _prose_line(line: str) -> str:
    """A long line that a furniture rule would drop whole keeps its sentences that are not furniture.

    Articles pasted or stored as one paragraph (CNN/DailyMail dumps, scrapers that drop line breaks) carry
    a "CLICK HERE to read ..." sentence or a "(c)2015 ... All Rights Reserved." footer inside the one line;
    dropping the line dropped the article.
    """
    if _words(line) < _PROSE_WORDS or not is_furniture_phrase(line):
        return line
    return " ".join(line[a:b] for a, b in split_sentences(line) if not is_furniture_phrase(line[a:b]))


def clean_lines(text: str, title: str | None = None) -> tuple[str | None, list[str]]:
    """Split raw text into (headline, paragraphs) with furniture removed.

    Without an explicit ``title`` the first line of at least three words that is not furniture by phrase
    (it may lack punctuation, as headlines do) becomes the headline.
    """
    lines = [_prose_line(_CREDIT_PREFIX.sub("", _LINK_RUN.sub("", ln).strip()))
             for ln in normalize(text).split("\n")]
    headline = title.strip() if title and title.strip() else None
    paragraphs: list[str] = []
    for ln in lines:
        if not ln:
            continue
        bullet = _BULLET.match(ln)
        if bullet:
            ln = ln[bullet.end():].strip()
            # Bulleted key points are content even without a full stop.
            if _words(ln) >= 4 and not is_furniture_phrase(ln):
                paragraphs.append(ln)
                continue
        if headline is None and not paragraphs and not is_furniture_phrase(ln):
            # Headlines carry no closing full stop; a first line that does is already body text.
            if 3 <= _words(ln) <= 30 and not _SENT_END.search(ln):
                headline = ln
                continue
        if not is_furniture(ln):
            paragraphs.append(ln)
    if headline is not None and headline == (title or "").strip() and paragraphs and paragraphs[0] == headline:
        paragraphs = paragraphs[1:]  # the body repeats the given title
    return headline, paragraphs


_local = threading.local()


class CachedRe:
    """The ``re`` module as pysbd's modules see it, with compiled patterns kept in an LRU of their own.

    pysbd passes pattern strings to ``re.sub``/``findall``/``finditer``: a few hundred fixed ones, one per
    abbreviation found, and one per sentence it locates (the sentence, escaped). The unique ones overflow
    ``re``'s own cache of 512 and evict the fixed ones, so about half of pysbd's time went to recompiling
    regexes (cProfile on the seeds and 30 CNN/DM articles: 15 of 34 s in ``re._compile``). A compiled
    pattern behaves exactly as the string does, so the output is unchanged (tests/model/test_text.py); only
    the recompiling goes.
    """

    def __init__(self, maxsize: int = 2048):
        import functools

        self._compile = functools.lru_cache(maxsize=maxsize)(re.compile)

    def __getattr__(self, name):  # flags, escape, error, Pattern ...: the module's own
        return getattr(re, name)

    def compile(self, pattern, flags=0):
        return self._compile(pattern, flags)

    def search(self, pattern, string, flags=0):
        return self._compile(pattern, flags).search(string)

    def match(self, pattern, string, flags=0):
        return self._compile(pattern, flags).match(string)

    def fullmatch(self, pattern, string, flags=0):
        return self._compile(pattern, flags).fullmatch(string)

    def findall(self, pattern, string, flags=0):
        return self._compile(pattern, flags).findall(string)

    def finditer(self, pattern, string, flags=0):
        return self._compile(pattern, flags).finditer(string)

    def split(self, pattern, string, maxsplit=0, flags=0):
        return self._compile(pattern, flags).split(string, maxsplit)

    def sub(self, pattern, repl, string, count=0, flags=0):
        return self._compile(pattern, flags).sub(repl, string, count)

    def subn(self, pattern, repl, string, count=0, flags=0):
        return self._compile(pattern, flags).subn(repl, string, count)


_CACHED_RE = CachedRe()


def _pysbd_with_cached_regexes():
    """pysbd, its loaded modules seeing ``_CACHED_RE`` as ``re`` (idempotent)."""
    import sys

    import pysbd

    pysbd.Segmenter(language="en", clean=False).segment("Load the English rules. Now.")  # imports them all
    for name, module in list(sys.modules.items()):
        if name.startswith("pysbd") and getattr(module, "re", None) is re:
            module.re = _CACHED_RE
    return pysbd


def _located(text: str, sentences: list[str], span) -> list:
    """pysbd's ``Segmenter.sentences_with_char_spans`` without a regex per sentence: each sentence's first
    occurrence (non-overlapping, left to right, as ``re.finditer(escape(sent) + r"\s*")`` scans) that ends
    after the previous one, with its trailing whitespace. ``str.isspace`` is ``\s`` for str patterns."""
    out, prior_end = [], 0
    for sent in sentences:
        pos = 0
        while sent:
            start = text.find(sent, pos)
            if start < 0:
                break
            end = start + len(sent)
            while end < len(text) and text[end].isspace():
                end += 1
            if end > prior_end:
                out.append(span(text[start:end], start, end))
                prior_end = end
                break
            pos = end
        if not sent:  # an empty sentence matches the whitespace at the text's start: pysbd's own way
            for m in re.finditer(r"\s*", text):
                if m.end() > prior_end:
                    out.append(span(m.group(), m.start(), m.end()))
                    prior_end = m.end()
                    break
    return out


def sentence_segmenter():
    """This thread's pysbd Segmenter (English, no cleaning): the one sentence splitter everything uses."""
    # One pysbd Segmenter per thread: it keeps the text being split on the instance, so a shared one
    # mixes up sentences when the API prepares several requests at once (found by the soak test).
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        pysbd = _pysbd_with_cached_regexes()
        from pysbd.utils import TextSpan

        seg = _local.segmenter = pysbd.Segmenter(language="en", clean=False)
        seg.sentences_with_char_spans = lambda sents, seg=seg: _located(seg.original_text, sents, TextSpan)
    return seg


def split_sentences(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) inside one paragraph, found with pysbd and located exactly."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in sentence_segmenter().segment(paragraph):
        piece = piece.strip()
        if not piece:
            continue
        start = paragraph.find(piece, cursor)
        if start < 0:  # pysbd altered the text; fall back to the rest of the paragraph
            start = cursor
            while start < len(paragraph) and paragraph[start].isspace():
                start += 1
            spans.append((start, len(paragraph.rstrip())))
            break
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    return [(a, b) for a, b in spans if b > a and _WORD.search(paragraph[a:b])]


def segment(text: str, title: str | None = None) -> tuple[str, list[Sentence]]:
    """Clean ``text`` and segment it; returns the cleaned text and its sentences with offsets into it."""
    headline, paragraphs = clean_lines(text, title)
    parts: list[str] = []
    sentences: list[Sentence] = []
    offset = 0
    if headline:
        parts.append(headline)
        sentences.append(Sentence(0, headline, 0, len(headline), is_title=True))
        offset = len(headline) + 2
    for para in paragraphs:
        for a, b in split_sentences(para):
            sentences.append(Sentence(len(sentences), para[a:b], offset + a, offset + b, paragraph=len(parts)))
        parts.append(para)
        offset += len(para) + 2
    return "\n\n".join(parts), sentences
