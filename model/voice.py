"""The writer's own voice: the lexicon that tells the writer speaking from reporting.

One rule uses it: :data:`ATTRIBUTION_VOICE` (case-sensitive, so a sentence-initial "We" or "US" does not
match) in the claims' attribution: first person singular or plural outside quotes means the writer is
speaking, not reporting someone.

Rules that were here and were removed, because none of them paid on data other than the seeds (effect of
OR-ing each into the shipped default model's in-article decision, p >= 0.81, on CheckThat! dev (462
sentences, macro-F1 0.6845 without) and on the writer's own sentences of the BASIL held-out reports
(straight news: every new flag is a false one)):

=========================================  =====  ===========  =========  ===================
rule                                       dev n  dev SUBJ      dev F1     BASIL held-out
=========================================  =====  ===========  =========  ===================
first person, case-insensitive (as was)     14    0.36          -0.009     49 hits, +41 flags, FER +1.2 pt
first person, case-sensitive                14    0.36          -0.009     21 hits, +14 flags, FER +0.6 pt
"you ... ?" put to the reader                1    1.00          +0.000      0 hits
"Guess/Wonder/Bet ..." at the start          0    -             +0.000      0 hits
"No doubt/Of course/Frankly ..." at start    3    0.67          -0.002      2 hits, +1 flag
aside "guess" / "presumably"                 0    -             +0.000      0 hits
aside "no doubt"                             1    0.00          -0.002      1 hit
other aside words (frankly, sadly, ...)     11    0.55          -0.008     10 hits, +8 flags
a trailing colon                             6    0.17          -0.008     60 hits, +13 flags
a closing question mark                     11    0.64          -0.001     13 hits, +10 flags
=========================================  =====  ===========  =========  ===================

(dev SUBJ: share of matched dev sentences labelled subjective; dev is 52% subjective.) The case-insensitive
first person also matched "i.e." and "ME" (Maine). Commentary is now the model's call alone.
"""

from __future__ import annotations

import re

# First person as the writer uses it (case-sensitive: "ME" is Maine, "i.e." is not "I").
FIRST_PERSON = ("I", "I'm", "I’m", "I've", "I’ve", "I'd", "I’d")
FIRST_PERSON_PLURAL = ("we", "our", "us")


def _words(words) -> str:
    return "|".join(words)


ATTRIBUTION_VOICE = re.compile(rf"\b(?:{_words(FIRST_PERSON + ('me', 'my') + FIRST_PERSON_PLURAL)})\b")
