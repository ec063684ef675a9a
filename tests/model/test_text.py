"""Cleaning of scraped page furniture and sentence segmentation with character offsets."""

from __future__ import annotations

import pytest
from presslens.model.text import Article, clean_lines, is_furniture, segment


def _texts(article: Article) -> list[str]:
    return [s.text for s in article.sentences]


def test_offsets_index_the_cleaned_text(seed_texts):
    for key, raw in seed_texts.items():
        art = Article(raw, id=key)
        assert art.sentences, key
        for s in art.sentences:
            assert art.clean_text[s.start : s.end] == s.text, (key, s)
        starts = [s.start for s in art.sentences]
        assert starts == sorted(starts)
        assert [s.index for s in art.sentences] == list(range(len(art.sentences)))


def test_headline_is_its_own_sentence(seed_texts):
    art = Article(seed_texts["001"])
    assert art.sentences[0].is_title
    assert art.sentences[0].text == "Secretary Kerry and Russian foreign minister meet in London to discuss Ukraine conflict"
    assert not any(s.is_title for s in art.sentences[1:])


@pytest.mark.parametrize(
    "line",
    ["Advertisement", "Share This Story", "Latest Headlines", "Respond to this story", "Copyright 2014 ABC News Radio",
     "Our Standards: The Thomson Reuters Trust Principles.", "[State Department]", "By JC Finley",
     "Friday, 14 March 2014 11:08 GMT", "Read more: https://example.com/x", "SIGN UP FOR OUR NEWSLETTER",
     "© 2021 Example Media. All rights reserved.", "Photo: Getty Images"],
)
def test_furniture_lines_are_recognised(line):
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    ["The referendum is scheduled to take place on Sunday.", "But why now?",
     "Russia, however, continues to escalate tensions."],
)
def test_prose_is_kept(line):
    assert not is_furniture(line)


def test_seed_furniture_removed(seed_texts):
    everything = [t for raw in seed_texts.values() for t in _texts(Article(raw))]
    banned = ("Advertisement", "Latest Headlines", "Share This Story", "Respond to this story", "Trust Principles",
              "Copyright 2014", "By JC Finley", "[State Department]")
    for sentence in everything:
        for b in banned:
            assert b not in sentence, (b, sentence)


def test_run_together_related_links_are_cut(seed_texts):
    art = Article(seed_texts["000"])
    first_body = art.sentences[1].text
    assert first_body.startswith("U.S. Secretary of State John Kerry is meeting with Russian Foreign Minister")
    for junk in ("KerryJohn", "Warren taps", "MORE", "campaign manager", "blind team support"):
        assert junk not in art.clean_text


def test_link_rule_is_generic():
    raw = "Senator Jane DoeJane Q. DoeSenate votes on budget Report finds flaws MORE said on Monday the bill passed."
    _, paras = clean_lines(raw)
    assert paras == ["Senator Jane Doe said on Monday the bill passed."]


def test_quotes_stay_with_their_attribution(seed_texts):
    art = Article(seed_texts["002"])
    texts = _texts(art)
    assert ('"I think the alignment of Britain and the European Union with the position that the U.S. is taking is '
            'absolutely right. We must keep at them."') in texts


def test_given_title_and_plain_text():
    clean, sents = segment("First sentence here. Second one follows!\n\nA third paragraph.", title="A headline")
    assert [s.text for s in sents] == ["A headline", "First sentence here.", "Second one follows!", "A third paragraph."]
    assert sents[0].is_title and clean.startswith("A headline\n\n")


def test_single_sentence_is_body_not_headline():
    art = Article("This is an outrageous decision by a cowardly council.")
    assert len(art.sentences) == 1 and not art.sentences[0].is_title


def test_empty_and_furniture_only_give_no_sentences():
    assert Article("").sentences == []
    assert Article("Advertisement\n\nShare This Story\n").sentences == []


def test_bullets_and_control_characters():
    art = Article("Headline about a vote\n* Parliament votes on the budget today\n\x07Lawmakers met\u00a0early.")
    assert _texts(art) == ["Headline about a vote", "Parliament votes on the budget today", "Lawmakers met early."]


def test_an_article_on_one_line_loses_its_furniture_sentences_not_the_article():
    body = ("The city council approved the new budget on Tuesday after a long debate. The plan adds money for "
            "schools and road repairs over the next two years. Officials said the vote was close and that "
            "the mayor would sign it this week. Residents can read the full plan on the council website.")
    one_line = f"CLICK HERE to read the full story from our reporter. {body} ©2015 Example News. All Rights Reserved."
    texts = [s.text for s in Article(one_line).sentences]
    assert texts[0].startswith("The city council approved") and texts[-1].startswith("Residents can read")
    assert not any("CLICK HERE" in t or "Rights Reserved" in t or "©2015" in t for t in texts)
    # A short line is still furniture as a whole.
    assert Article(f"{body}\nCLICK HERE to read more.").sentences[-1].text.startswith("Residents can read")


def test_pysbd_regex_cache_answers_as_re_does():
    """model.text hands pysbd a ``re`` whose compiled patterns are cached: every call answers as ``re``'s."""
    import re

    from presslens.model.text import CachedRe

    cached = CachedRe(maxsize=4)
    text = "Mr. Smith met Dr. Jones at 5 p.m. on Jan. 3. They talked.  Then left!"
    cases = [("findall", (r"(?:^|\s)dr\.", text), {"flags": re.IGNORECASE}), ("findall", (r"\b\w+\.", text), {}),
             ("split", (r"(?<=[.!?])\s+", text), {"maxsplit": 2}), ("sub", (r"\.(?=\s[A-Z])", "∯", text), {}),
             ("subn", (r"\s+", " ", text), {"count": 3}), ("search", (r"p\.m\.", text), {}),
             ("match", (r"Mr", text), {}), ("fullmatch", (r".*", text), {"flags": re.S})]
    for _ in range(3):  # a full cache evicts and recompiles: still the same answers
        for name, args, kwargs in cases:
            got, want = getattr(cached, name)(*args, **kwargs), getattr(re, name)(*args, **kwargs)
            if name in ("search", "match", "fullmatch"):
                got, want = got and got.span(), want and want.span()
            assert got == want, name
        assert [m.span() for m in cached.finditer(re.escape("Then left!") + r"\s*", text)] == \
            [m.span() for m in re.finditer(re.escape("Then left!") + r"\s*", text)]
    assert cached.escape("a.b") == re.escape("a.b") and cached.IGNORECASE == re.IGNORECASE
