"""Reported speech: speakers, quotations, pronoun resolution and the writer's asides."""

from __future__ import annotations

import pytest
from presslens.model.claims import attribute, quoted_spans, resolve_speakers, writer_aside


@pytest.mark.parametrize("text,speaker", [
    ('"It\'s pointless to speculate," Russian Foreign Minister Sergei Lavrov said in London.',
     "Russian Foreign Minister Sergei Lavrov"),
    ("Lavrov said it was a \"difficult situation\" as much had happened.", "Lavrov"),
    ("The meeting was arranged by Kerry, said an unnamed senior State Department official.",
     "unnamed senior State Department official"),
    ("Moscow has not shown it is ready to engage, according to U.S. officials.", "U.S. officials"),
    ("According to The Guardian, diplomats do not see the talks as likely to produce a breakthrough.", "The Guardian"),
    ("So far, according to a senior State Department official, no plan exists.", "senior State Department official"),
    ("On Thursday Ukrainian Prime Minister Arseniy Yatsenyuk accused Russia of aggression.",
     "Ukrainian Prime Minister Arseniy Yatsenyuk"),
    ("“We are very concerned,” the official responded when asked.", "official"),
])
def test_speakers(text, speaker):
    att = attribute(text)
    assert att.speaker == speaker and att.reported


@pytest.mark.parametrize("text", [
    "The referendum is scheduled to take place on Sunday.",
    "Even as Kerry rejected an invitation, U.S. officials held out the possibility of a meeting if Russia agreed.",
])
def test_no_speaker_for_plain_reporting(text):
    assert attribute(text).speaker is None


def test_quoted_spans_and_open_quotes():
    assert quoted_spans('Lavrov said it was a "difficult situation" today.') == ["difficult situation"]
    assert quoted_spans("“This is a difficult situation we are in. Many events have happened") == [
        "This is a difficult situation we are in. Many events have happened"]
    assert quoted_spans("No quotation here.") == []


def test_pronoun_speaker_resolves_to_the_person_just_named():
    texts = ["Lavrov's opening statement acknowledged the challenging situation.",
             '"This is a difficult situation we are in," he said through an interpreter.',
             "The referendum is on Sunday.", "It was cold.", "Nobody knew.", '"Wait," he said.']
    speakers = [attribute(t).speaker for t in texts]
    assert speakers[1] == "he"
    resolved = resolve_speakers(texts, speakers)
    assert resolved[1] == "Lavrov"
    assert resolved[5] == "he"  # too far from the last name to guess


@pytest.mark.parametrize("text,aside", [
    ("Guess it sort of slipped his mind.", True),
    ("I don't think they're going out for lunch afterwards, do you?", True),
    ("No doubt the two old commies shared a laugh at the notion.", True),
    ("The talks can best be summed up by this picture:", True),
    ("How futile were the prospects of success?", True),
    ('"I think the alignment of Britain with the U.S. is absolute," he said.', False),
    ("U.S. officials said they raised the prospect of more autonomy for Crimea.", False),
    ("Russia continued staging military exercises along its border.", False),
])
def test_writer_asides(text, aside):
    assert writer_aside(text) is aside
