"""model.intake: the one way from a user's text or HTML to an Article, with the same refusals everywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest
from presslens.model.intake import ExtractorFault, IntakeError, check_body, html_to_text, to_article

PAGE = ("<html><head><title>Talks in London</title></head><body><nav>Home | World</nav><article>"
        "<p>Kerry and Lavrov met in London on Friday to discuss the referendum in Crimea.</p>"
        "<p>The talks lasted six hours, officials said, and ended without an agreement.</p>"
        "</article></body></html>")


@pytest.mark.parametrize(("body", "kind", "message"), [
    ("x" * 101, "too_long", "101 characters, at most 100 per article (PRESSLENS_MAX_CHARS)"),
    ("abc\x00def", "binary", "binary data (NUL characters), not text"),
    ("caf\udce9", "undecodable", "undecodable bytes: the text is not UTF-8"),
    ("  \n ", "empty", "the article is empty"),
])
def test_cheap_checks_name_the_problem(body, kind, message):
    with pytest.raises(IntakeError) as err:
        check_body(body, max_chars=100)
    assert err.value.kind == kind and str(err.value) == message


def test_text_and_html_become_articles():
    article = to_article(text="Kerry met Lavrov in London. The talks ended.", id="a1", title="Talks")
    assert article.id == "a1" and [s.text for s in article.sentences][1:] == [
        "Kerry met Lavrov in London.", "The talks ended."]
    page = to_article(html=PAGE, id="p")
    assert "Talks in London" in [s.text for s in page.sentences if s.is_title]
    assert any("six hours" in s.text for s in page.sentences)
    assert not any("Home | World" in s.text for s in page.sentences)


def test_no_text_in_html_and_nothing_after_cleaning_are_input_errors():
    with pytest.raises(IntakeError, match="no article text found in the HTML"):
        to_article(html="<html><body><img src=x></body></html>", id="h")
    with pytest.raises(IntakeError, match="no sentences left after cleaning"):
        to_article(text="... --- !!!", id="t")
    with pytest.raises(IntakeError, match="exactly one of 'text' or 'html'"):
        to_article(text="a.", html="<p>a</p>", id="both")


def test_an_exception_inside_the_extractor_is_a_fault_not_the_inputs(monkeypatch):
    import trafilatura

    def broken(*a, **k):
        raise MemoryError("lxml ran out")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    with pytest.raises(ExtractorFault, match="MemoryError: lxml ran out"):
        html_to_text(PAGE)
    with pytest.raises(ExtractorFault):
        to_article(html=PAGE, id="p")


def test_the_intake_and_the_batch_rows_import_no_web_stack():
    """Ray workers analyse HTML rows through model.intake: neither it nor model.batch may pull in FastAPI."""
    code = ("import sys, model.batch, model.intake; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'api') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
