"""Rows in, result rows out: the per-batch work of ``presslens batch``, the same whichever engine drives it.

A row is a mapping with ``text`` or ``html`` and optional ``id`` and ``title`` (anything else is the engine's
business: it passes through beside the result). Every row gets exactly one result row back, in order: either
the analysis (label, confidence, commentary, summary, the sentences) with ``error`` None, or ``error`` naming
what is wrong with that row and every analysis field None. Nothing here raises for a bad row, so one broken
article never stops a corpus run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .intake import ExtractorFault, HtmlExtractor, IntakeError, html_to_text, to_article
from .text import Article

if TYPE_CHECKING:  # the pipeline (and torch) only where rows are analysed, not where they are read
    from .pipeline import AnalyzeOptions, Analyzer

# The result fields every row gets, in output order (the engines add provenance and pass-through columns).
RESULT_FIELDS = (
    "id", "title", "label", "confidence", "editorial_probability", "commentary", "summary", "summary_index",
    "n_sentences", "sentences", "error",
)
# The per-sentence detail, as in ``Analysis.to_dict()["sentences"]``.
SENTENCE_FIELDS = ("index", "text", "start", "end", "is_title", "commentary", "probability", "reported", "speaker")
# Set by a reader for a row it could not decode (bad UTF-8, broken JSON): the row becomes an error row.
READ_ERROR = "_read_error"


@dataclass(frozen=True)
class RowLimits:
    """What a row may be. ``max_chars`` is the API's per-article limit (PRESSLENS_MAX_CHARS), handed in by the
    caller so the batch command and the HTTP API refuse the same articles."""

    max_chars: int


def _body(row: Mapping) -> tuple[str | None, str | None, str | None]:
    """(kind, body, error): the text to analyse (``text`` first, else ``html``) or why there is none."""
    present = [k for k in ("text", "html") if k in row]
    if not present:
        return None, None, "no 'text' or 'html' field"
    for kind in present:
        value = row[kind]
        if isinstance(value, str) and value.strip():
            return kind, value, None
    kind = present[0]
    value = row[kind]
    if value is None:
        return None, None, f"null {kind}"
    if not isinstance(value, str):
        return None, None, f"{kind} must be a string, got {type(value).__name__}"
    return None, None, f"empty {kind}"


def row_id(row: Mapping, default: str) -> str:
    value = row.get("id")
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return default
    return str(value)


def prepare_row(row: Mapping, default_id: str, limits: RowLimits,
                extract: HtmlExtractor = html_to_text) -> Article | str:
    """The row's Article (through ``model.intake``, as the API's), or a one-line error saying why not."""
    if row.get(READ_ERROR):
        return str(row[READ_ERROR])
    kind, body, error = _body(row)
    if error:
        return error
    title = row.get("title")
    if title is not None and not isinstance(title, str):
        title = None if isinstance(title, float) and title != title else str(title)
    try:
        return to_article(**{kind: body}, id=row_id(row, default_id), title=title or None,
                          max_chars=limits.max_chars, extract=extract)
    except IntakeError as exc:
        return str(exc)
    except ExtractorFault as exc:  # the extractor's fault, named as such; the job goes on
        return str(exc)
    except Exception as exc:  # a row that breaks cleaning is that row's error, not the job's
        return f"could not segment the text: {type(exc).__name__}: {exc}"


def result_row(analysis_dict: dict, ident: str) -> dict:
    """One analysed row from ``Analysis.to_dict()``: the shape shared with the CLI and the API, flattened."""
    d = analysis_dict
    return {
        "id": ident, "title": d["title"], "label": d["label"], "confidence": d["confidence"],
        "editorial_probability": d["editorial_probability"], "commentary": d["commentary"],
        "summary": [s["text"] for s in d["summary"]], "summary_index": [s["index"] for s in d["summary"]],
        "n_sentences": len(d["sentences"]),
        "sentences": [{k: s[k] for k in SENTENCE_FIELDS} for s in d["sentences"]],
        "error": None,
    }


def error_row(ident: str, error: str) -> dict:
    return {**dict.fromkeys(RESULT_FIELDS), "id": ident, "error": error}


def analyze_rows(analyzer: Analyzer, rows: Sequence[Mapping], default_ids: Sequence[str], limits: RowLimits,
                 options: AnalyzeOptions | None = None, extract: HtmlExtractor = html_to_text) -> list[dict]:
    """One result row per input row, in order. The analysable rows share one batched Analyzer call; if that
    call fails, each row is tried alone so only the rows that fail get an error."""
    if options is None:
        from .pipeline import AnalyzeOptions

        options = AnalyzeOptions()
    out: list[dict | None] = [None] * len(rows)
    ready: list[tuple[int, Article]] = []
    for i, (row, default) in enumerate(zip(rows, default_ids, strict=True)):
        prepared = prepare_row(row, default, limits, extract)
        if isinstance(prepared, str):
            out[i] = error_row(row_id(row, default), prepared)
        else:
            ready.append((i, prepared))
    if ready:
        try:
            analyses = analyzer.analyze([a for _, a in ready], options)
        except Exception:  # find the row(s) at fault instead of failing them all
            analyses = None
        for k, (i, article) in enumerate(ready):
            if analyses is not None:
                out[i] = result_row(analyses[k].to_dict(), article.id)
                continue
            try:
                out[i] = result_row(analyzer.analyze([article], options)[0].to_dict(), article.id)
            except Exception as exc:  # that row's error
                out[i] = error_row(article.id, f"analysis failed: {type(exc).__name__}: {exc}")
    return out  # type: ignore[return-value]
