"""Reported speech: who a sentence quotes or paraphrases, and how much of it is quotation.

A quoted opinion ("It can get ugly fast," Kerry warned) is reporting, not the writer's commentary; the
stance layer uses ``is_reported`` to keep such sentences out of the writer's commentary, and summaries use
``speaker`` to attribute claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .voice import ASIDE, ATTRIBUTION_VOICE

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
# "according to X": X runs to the next comma/semicolon, a relative clause or the end of the sentence.
_ACCORDING = re.compile(r"\b[Aa]ccording\s+to\s+(?P<speaker>[^,;:]{2,80}?)(?=\s*[,;:]|\s+(?:who|which|that)\b|\.?[\"”’]?\s*$)")
_SPEAKER_VERB = re.compile(rf"(?P<speaker>{_SPEAKER})(?:,[^,]{{3,80}},)?\s+(?:has\s+|had\s+|have\s+)?(?:{_VERBS})\b")
_AFTER_QUOTE_SV = re.compile(rf"[”\"],?\s+(?P<speaker>{_SPEAKER})\s+(?:{_VERBS})\b")
_AFTER_QUOTE_VS = re.compile(rf"[”\"],?\s+(?:{_VERBS})\s+(?P<speaker>{_NAME}|{_DESCR})")
_VERB_SPEAKER = re.compile(rf",\s+(?:{_VERBS})\s+(?P<speaker>{_NAME}|{_DESCR})")
_SAID_PAREN = re.compile(rf"(?P<speaker>{_SPEAKER}),\s+(?:speaking|writing)\b")
# Cheap guards: the speaker patterns are tried only where the words they need occur at all.
_ANY_VERB = re.compile(rf"\b(?:{_VERBS})\b")
_NEEDS_VERB = (_AFTER_QUOTE_SV, _AFTER_QUOTE_VS, _SPEAKER_VERB, _VERB_SPEAKER)


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


_LEADING_JUNK = re.compile(
    r"^(?:(?:on|in|at|by|from|with|after|before|during|since|last|this|early|late|and|but|then|also|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday)\s+)+",
    re.IGNORECASE,
)
_DESCRIPTOR_END = re.compile(
    r"(?:official|officials|spokesman|spokeswoman|spokesperson|source|sources|diplomat|diplomats|minister|"
    r"secretary|president|leader|leaders|analyst|analysts|expert|experts|aide|aides|lawmaker|lawmakers|"
    r"senator|representative|statement|report|reports|witness|witnesses|police|prosecutors|spokesmen|"
    r"residents|observers|negotiators|delegation|ambassador|envoy|story|study|survey|data|figures)$",
    re.IGNORECASE,
)
# Extend a speaker that stops inside a name ("a senior State" + "Department official").
_CONTINUATION = re.compile(
    r"^(?:\s+[A-Z][\w.'’-]*)*(?:\s+(?:official|officials|spokesman|spokeswoman|spokesperson|source|sources))?"
)


def _clean_speaker(name: str) -> str | None:
    """Trim a matched speaker; None when what is left does not look like a speaker."""
    name = _LEADING_JUNK.sub("", name.strip())
    # Drop an article before a description ("the official"); keep it inside a name ("The Guardian").
    name = re.sub(r"^(?:the|an?|The|An?)\s+(?=[a-z])|^(?:the|an?)\s+", "", name).strip(" ,.;:\"“”'’")
    if not name:
        return None
    if len(name.split()) > 9:
        return None
    # Lower-case openings must be a description ending in a speaker noun ("unnamed senior official").
    if name[0].islower() and not _DESCRIPTOR_END.search(name) and not _PRON_ONLY.fullmatch(name):
        return None
    return name


_PRON_ONLY = re.compile(r"he|she|they|it|we", re.IGNORECASE)


def _outside_quotes(text: str) -> str:
    """The sentence with quoted material blanked out, so verbs inside quotations do not count."""
    return _QUOTE_SPANS.sub(lambda m: " " * (m.end() - m.start()), text)


@lru_cache(maxsize=8192)
def attribute(text: str) -> Attribution:
    """Find who a sentence reports (quote or reported speech) and whether it is reporting at all.

    Cached: stance and summary both ask about the same sentences, and the answer is a pure function of
    the text.
    """
    frac = quote_fraction(text)
    outside = _outside_quotes(text)
    speaker = None
    has_verb = _ANY_VERB.search(text) is not None
    for pattern in (_AFTER_QUOTE_SV, _AFTER_QUOTE_VS, _SPEAKER_VERB, _ACCORDING, _VERB_SPEAKER, _SAID_PAREN):
        if not has_verb and pattern in _NEEDS_VERB:
            continue
        source = text if pattern in (_AFTER_QUOTE_SV, _AFTER_QUOTE_VS) else outside
        m = pattern.search(source)
        if m:
            raw = m.group("speaker")
            if pattern is not _ACCORDING:
                raw += _CONTINUATION.match(source[m.end("speaker"):]).group(0)
            candidate = _clean_speaker(raw)
            if candidate and not ATTRIBUTION_VOICE.fullmatch(candidate):
                speaker = candidate
                break
    writer_voice = bool(ATTRIBUTION_VOICE.search(outside)) and frac < 0.5
    reported = (speaker is not None or frac >= 0.5) and not writer_voice
    return Attribution(speaker=speaker, quote_fraction=round(frac, 3), reported=reported)


def quoted_spans(text: str) -> list[str]:
    """The quoted passages of a sentence (without the marks); an unclosed quote runs to the end."""
    spans = [m.group(0)[1:-1] for m in _QUOTE_SPANS.finditer(text)]
    rest = _QUOTE_SPANS.sub(" ", text)
    for mark in ("“", '"'):
        pos = rest.find(mark)
        if pos >= 0 and len(rest) - pos > 12:
            spans.append(rest[pos + 1:])
            break
    return spans


_PRONOUN_SPEAKER = re.compile(r"^(?:he|she|they|it|we)$", re.IGNORECASE)
# A named person mentioned in a sentence: a possessive ("Lavrov's") or a name before a speech verb.
_MENTION = re.compile(r"(?P<name>(?:[A-Z][a-z][\w'’-]*\s+){0,3}[A-Z][a-z][\w-]*)(?:'s|’s)\b")


def writer_aside(text: str) -> bool:
    """True when a sentence speaks in the writer's own voice (outside any quotation).

    First person, hedges and sneers (:data:`model.voice.ASIDE`), a question put to the reader, and a
    sentence ending in a colon that leads in to something outside the text. Used by the claims-only mode so
    asides stay out whatever the stance model says.
    """
    outside = _outside_quotes(text).strip()
    if quote_fraction(text) >= 0.5:
        return False
    if ASIDE.search(outside):
        return True
    if outside.rstrip(" \"'”’)").endswith("?") or outside.endswith(":"):
        return True
    return False


def resolve_speakers(texts: list[str], speakers: list[str | None], window: int = 3) -> list[str | None]:
    """Replace pronoun speakers ("he said") with the person last named in the preceding sentences."""
    out = list(speakers)
    recent: list[tuple[int, str]] = []  # (sentence number, name)
    for k, text in enumerate(texts):
        spk = out[k]
        if spk and _PRONOUN_SPEAKER.match(spk):
            cands = [name for pos, name in recent if k - pos <= window]
            out[k] = cands[-1] if cands else spk
        for m in _MENTION.finditer(_outside_quotes(text)):
            recent.append((k, m.group("name")))
        if out[k] and not _PRONOUN_SPEAKER.match(out[k]) and out[k][:1].isupper():
            # "Lavrov's opening statement" speaks for Lavrov
            recent.append((k, re.sub(r"(?:'s|’s)\b.*$", "", out[k])))
    return out


def speaker(text: str) -> str | None:
    return attribute(text).speaker


def is_reported(text: str) -> bool:
    return attribute(text).reported
