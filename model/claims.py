"""Reported speech: who a sentence quotes or paraphrases, and how much of it is quotation.

A quoted opinion ("It can get ugly fast," Kerry warned) is reporting, not the writer's commentary; the
stance layer uses ``is_reported`` to keep such sentences out of the writer's commentary, and summaries use
``speaker`` to attribute claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERBS = (
    r"said|says|say|told|tells|added|adds|warned|warns|acknowledged|acknowledges|stated|states|noted|notes|"
    r"argued|argues|claimed|claims|asked|asks|responded|responds|explained|explains|insisted|insists|"
    r"declared|declares|announced|announces|wrote|writes|testified|testifies|confirmed|confirms|"
    r"denied|denies|suggested|suggests|stressed|stresses|vowed|vows|predicted|predicts|admitted|admits|"
    r"conceded|concedes|replied|replies|recalled|recalls|contended|contends|believes|"
    r"accused|accuses|urged|urges|pledged|pledges|reported|indicated|tweeted|tweets|"
    r"concluded|remarked|observed|cautioned|cautions"
)
# Names: capitalised words with initials, titles and particles ("Russian Foreign Minister Sergei Lavrov").
_NAME = r"(?:[A-Z][\w.'’-]*|U\.S\.)(?:\s+(?:[A-Z][\w.'’-]*|of|de|van|von|al|bin|the|for|and))*"
_DESCR = (
    r"(?:(?:an?|the|one|two|three|several|some|many|other)\s+)?(?:[\w.'’-]+\s+){0,6}?"
    r"(?:official|officials|spokesman|spokeswoman|spokesperson|source|sources|diplomat|diplomats|minister|"
    r"secretary|president|leader|leaders|analyst|analysts|expert|experts|aide|aides|lawmaker|lawmakers|"
    r"senator|representative|statement|report|reports|witness|witnesses|police|prosecutors|"
    r"spokesmen|residents|person|people|observers|negotiators|delegation|ambassador|envoy|[A-Z][\w-]+)"
)
_PRON = r"(?:he|she|they|it|we)"
_SPEAKER = rf"(?:{_NAME}|{_DESCR}|{_PRON})"

_QUOTE_SPANS = re.compile(r"\"[^\"]{2,}\"|“[^”]{2,}”|«[^»]{2,}»|‘[^’]{8,}’")
_ACCORDING = re.compile(rf"\baccording\s+to\s+(?P<speaker>{_NAME}|{_DESCR}|[a-z][\w\s.'’-]{{3,60}}?)(?=[,.;:]|\s+(?:who|which|that)\b|$)")
_SPEAKER_VERB = re.compile(rf"(?P<speaker>{_SPEAKER})(?:,[^,]{{3,80}},)?\s+(?:has\s+|had\s+|have\s+)?(?:{_VERBS})\b")
_AFTER_QUOTE_SV = re.compile(rf"[”\"],?\s+(?P<speaker>{_SPEAKER})\s+(?:{_VERBS})\b")
_AFTER_QUOTE_VS = re.compile(rf"[”\"],?\s+(?:{_VERBS})\s+(?P<speaker>{_NAME}|{_DESCR})")
_VERB_SPEAKER = re.compile(rf",\s+(?:{_VERBS})\s+(?P<speaker>{_NAME}|{_DESCR})")
_SAID_PAREN = re.compile(rf"(?P<speaker>{_SPEAKER}),\s+(?:speaking|writing)\b")
_WRITER_VOICE = re.compile(r"\b(?:I|I'm|I’m|I've|I’ve|I'd|I’d|me|my|we|our|us)\b")


@dataclass(frozen=True)
class Attribution:
    speaker: str | None
    quote_fraction: float
    reported: bool


def quote_fraction(text: str) -> float:
    """Share of the sentence's characters inside quotation marks (an open quote runs to the end)."""
    if not text:
        return 0.0
    covered = sum(m.end() - m.start() for m in _QUOTE_SPANS.finditer(text))
    # A quotation that continues from the previous sentence or into the next one opens or closes alone.
    unmatched = re.sub(r"\"[^\"]*\"|“[^”]*”", "", text)
    for mark in ("“", '"'):
        pos = unmatched.find(mark)
        if pos >= 0:
            covered = max(covered, len(unmatched) - pos)
    closing = unmatched.find("”")
    if closing >= 0:
        covered = max(covered, closing + 1)
    return min(1.0, covered / len(text))


def _clean_speaker(name: str) -> str:
    name = re.sub(r"^(?:the|an?)\s+(?=[A-Z])", "", name.strip(), flags=re.IGNORECASE)
    return name.strip(" ,.;:\"“”'’")


def _outside_quotes(text: str) -> str:
    """The sentence with quoted material blanked out, so verbs inside quotations do not count."""
    return _QUOTE_SPANS.sub(lambda m: " " * (m.end() - m.start()), text)


def attribute(text: str) -> Attribution:
    """Find who a sentence reports (quote or reported speech) and whether it is reporting at all."""
    frac = quote_fraction(text)
    outside = _outside_quotes(text)
    speaker = None
    for pattern in (_AFTER_QUOTE_SV, _AFTER_QUOTE_VS, _SPEAKER_VERB, _ACCORDING, _VERB_SPEAKER, _SAID_PAREN):
        m = pattern.search(text if pattern in (_AFTER_QUOTE_SV, _AFTER_QUOTE_VS) else outside)
        if m:
            candidate = _clean_speaker(m.group("speaker"))
            if candidate and not _WRITER_VOICE.fullmatch(candidate):
                speaker = candidate
                break
    writer_voice = bool(_WRITER_VOICE.search(outside)) and frac < 0.5
    reported = (speaker is not None or frac >= 0.5) and not writer_voice
    return Attribution(speaker=speaker, quote_fraction=round(frac, 3), reported=reported)


def speaker(text: str) -> str | None:
    return attribute(text).speaker


def is_reported(text: str) -> bool:
    return attribute(text).reported
