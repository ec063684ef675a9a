"""The writer's own voice: the one home of the lexicons that tell the writer speaking from reporting.

Three rules use them today, each with its own case handling (kept as they were; which one should win is
an open question for evaluation, not settled here):

* :data:`STANCE_VOICE` / :func:`writer_voice` (case-insensitive) -- the stance model's article rule: first
  person singular, second-person address in a question, an elided first person ("Guess ..."), or a stance
  adverbial at the start.
* :data:`ATTRIBUTION_VOICE` (case-sensitive, so a sentence-initial "We" or "US" does not match) -- the
  claims' attribution: first person singular and plural outside quotes means the writer is not reporting.
* :data:`ASIDE` (case-insensitive) -- the claims-only summary: first person, hedges and sneers.
"""

from __future__ import annotations

import re

# First person singular as the writer uses it; every rule below starts from these.
FIRST_PERSON = ("I", "I'm", "I’m", "I've", "I’ve", "I'd", "I’d")
FIRST_PERSON_PLURAL = ("we", "our", "us")
STANCE_ADVERBIALS = ("no doubt", "of course", "needless to say", "frankly", "sadly", "thankfully", "clearly",
                     "obviously")
ELIDED_FIRST_PERSON = ("guess", "wonder", "bet", "reckon", "betcha", "imagine that")
ASIDE_WORDS = (
    "(?:let's|let’s)", "guess", "no doubt", "of course", "obviously", "frankly", "sadly", "apparently",
    "presumably", "needless to say", "to be sure", "mind you", "you know", "ironically", "laughably",
    "shameful(?:ly)?", "absurd(?:ly)?", "ridiculous(?:ly)?", "pathetic(?:ally)?",
)


def _words(words) -> str:
    return "|".join(words)


# The writer addressing the reader in their own voice, outside any quotation. Straight reporting keeps these
# inside quotes; the sentence classifier, trained on formal news sentences, scores such short colloquial
# asides low.
_STANCE_FIRST_PERSON = FIRST_PERSON + ("I'll", "I’ll", "me", "my", "mine", "myself")
STANCE_VOICE = re.compile(
    rf"\b(?:{_words(_STANCE_FIRST_PERSON)})\b"
    r"|\b(?:you|your|yours|yourself)\b[^.!?]*\?\s*$"
    rf"|^(?:{_words(ELIDED_FIRST_PERSON)})\b"
    rf"|^(?:{_words(STANCE_ADVERBIALS)})\b",
    re.IGNORECASE,
)
ATTRIBUTION_VOICE = re.compile(rf"\b(?:{_words(FIRST_PERSON + ('me', 'my') + FIRST_PERSON_PLURAL)})\b")
ASIDE = re.compile(rf"\b(?:{_words(FIRST_PERSON + ('me', 'my') + ASIDE_WORDS)})\b", re.IGNORECASE)

_QUOTED = re.compile(r"\"[^\"]*\"?|“[^”]*”?|‘[^’]{8,}’")
_NOT_THE_WRITER = re.compile(r"\b(?:War|Phase|Title|Part|Act|Class|Article|Stage|Louis|Henry|George|Elizabeth|Charles)\s+I\b")


def writer_voice(text: str) -> bool:
    """Whether the sentence speaks in the writer's own voice outside quotation marks (:data:`STANCE_VOICE`)."""
    outside = _QUOTED.sub(" ", text).strip()
    m = STANCE_VOICE.search(outside)
    if not m:
        return False
    # a capitalised "I" inside an all-caps acronym or a Roman numeral ("World War I") is not the writer
    return not _NOT_THE_WRITER.search(outside[: m.end() + 1]) or m.group(0).lower() != "i"
