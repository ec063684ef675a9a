"""Whether a summary sentence reads on its own: dependent openers and their referents.

A sentence that opens with a pronoun ("He said ...", "Their plan ..."), a demonstrative ("This is ...",
"These measures ...") or a connective ("But ...", "However, ...", "Also ...") leans on what came before it.
In a summary that leaves out the sentence before it, a reader meets "he" without knowing who he is. The
rule, shared by the selector (``model.selection``) and the measure (``presslens eval summarize``):

* The **opener** is the sentence's first word (or phrase: "In addition", "On the other hand"), after any
  opening quotation mark, bracket or dash, so quoted speech counts too. Kinds:
  ``pronoun`` (he, she, they, it, his, her, their, its, him, them), ``demonstrative`` (this, that, these,
  those, such, both, neither, the latter, the former) and ``connective`` (but, however, also, and, so, yet,
  still, then, meanwhile, instead, moreover, ...). Not counted: "I", "we" and "you" (the speaker's or the
  writer's voice, not a reference back), "There is" (existential), expletive "it" ("It is likely that ..."),
  time deixis ("This week", "That night"), "So far", "Those who", "Then-President".
* A sentence with such an opener is **grounded** (readable in the summary) when it is the article's first
  body sentence (the headline, shown with every summary, is its context), or the body sentence just before
  it is in the summary. A pronoun is also grounded when its likely referent is already named earlier in the
  summary: the proper names of the nearest preceding article sentence that names anyone (looking back at
  most ``WINDOW`` sentences) share a name with an earlier summary sentence. Demonstratives and connectives
  point at the previous sentence's content, so only that sentence grounds them.
* Otherwise it is **dangling**.

This is a surface heuristic, not coreference resolution: "the company" or "the minister" (definite
descriptions) are not counted, and a name match does not prove the pronoun means that person. It errs
towards flagging.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

PRONOUN, DEMONSTRATIVE, CONNECTIVE = "pronoun", "demonstrative", "connective"

#: how many article sentences back a pronoun's referent is looked for
WINDOW = 3

_LEAD = "\"“”‘’'([—–- "
_PRONOUNS = "he|she|they|it|his|her|their|its|him|them"
_DEMONSTRATIVES = r"this|that|these|those|such|both|neither|the\s+latter|the\s+former"
_CONNECTIVES = (
    r"but|however|also|and|so|yet|still|then|meanwhile|instead|moreover|furthermore|besides|nevertheless|"
    r"nonetheless|thus|therefore|hence|otherwise|likewise|similarly|indeed|in\s+addition|as\s+a\s+result|"
    r"by\s+contrast|in\s+contrast|on\s+the\s+other\s+hand|even\s+so|in\s+turn|after\s+that|for\s+(?:his|her|"
    r"their|its)\s+part"
)
_OPENER = re.compile(
    rf"^(?:(?P<connective>{_CONNECTIVES})|(?P<demonstrative>{_DEMONSTRATIVES})|(?P<pronoun>{_PRONOUNS}))(?![\w’'-])",
    re.IGNORECASE,
)
_TIME = (r"(?:year|week|month|morning|afternoon|evening|night|weekend|summer|winter|spring|autumn|fall|season|"
         r"time|days?|decade|century|monday|tuesday|wednesday|thursday|friday|saturday|sunday)")
_NOT_DEPENDENT = re.compile(
    rf"^(?:(?:this|that|these|those|such)\s+{_TIME}\b|so\s+far\b|so-called\b|those\s+who\b|"
    r"it\s+(?:is|was|'s|’s|has\s+been|had\s+been|will\s+be|would\s+be|remains|remained|seems|seemed|appears|"
    r"appeared|is\s+not|was\s+not|isn't|wasn't)\s+(?:\w+\s+){0,4}?(?:that|to|whether|if|how|why|when|unclear|"
    r"clear)\b)",
    re.IGNORECASE,
)
# Proper names: a capitalised word (or a run of them) that does not open the sentence.
_NAME = re.compile(r"(?<![\w’'])([A-Z][a-z][\w’'-]*|[A-Z]{2,}[a-z]?)(?![\w])")
_NOT_NAMES = frozenset(
    "The A An And But In On At For Of To It He She They His Her Their Its We I You This That These Those "
    "Mr Mrs Ms Dr Sir Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
    "June July August September October November December".split()
)


def opener(text: str) -> tuple[str, str] | None:
    """(opening words, kind) when ``text`` opens with a pronoun, demonstrative or connective, else None."""
    s = text.lstrip(_LEAD)
    m = _OPENER.match(s)
    if not m or _NOT_DEPENDENT.match(s):
        return None
    kind = next(k for k in (CONNECTIVE, DEMONSTRATIVE, PRONOUN) if m.group(k))
    return m.group(0), kind


def names(text: str) -> frozenset[str]:
    """The proper-name words of a sentence (capitalised words other than its first word, and other than
    function words and calendar names): the words a reader would recognise a referent by."""
    s = text.lstrip(_LEAD)
    found = set()
    for m in _NAME.finditer(s):
        word = re.sub(r"(?:'s|’s)$", "", m.group(1))
        if m.start() == 0 or word in _NOT_NAMES or len(word) < 2:
            continue
        found.add(word)
    return frozenset(found)


@dataclass(frozen=True)
class Context:
    """What the rule needs about one article's body sentences (in article order): built once per article."""

    openers: tuple[tuple[str, str] | None, ...]
    names: tuple[frozenset[str], ...]

    @classmethod
    def of(cls, texts: Sequence[str]) -> Context:
        return cls(tuple(opener(t) for t in texts), tuple(names(t) for t in texts))

    def __len__(self) -> int:
        return len(self.openers)

    def dependent(self, pos: int) -> bool:
        """Whether body sentence ``pos`` leans on what precedes it (its own opener, whatever is selected)."""
        return pos > 0 and self.openers[pos] is not None

    def referent_names(self, pos: int) -> frozenset[str]:
        """Names of the nearest preceding sentence (within ``WINDOW``) that names anyone."""
        for q in range(pos - 1, max(-1, pos - 1 - WINDOW), -1):
            if self.names[q]:
                return self.names[q]
        return frozenset()

    def dangling(self, pos: int, selected: Collection[int]) -> bool:
        """Whether body sentence ``pos`` dangles in a summary holding the body sentences ``selected``
        (positions in this article; the rule is monotone: selecting more never makes a sentence dangle)."""
        if not self.dependent(pos) or (pos - 1) in selected:
            return False
        if self.openers[pos][1] != PRONOUN:
            return True
        earlier = frozenset().union(*(self.names[q] for q in selected if q < pos))
        return not (self.referent_names(pos) & earlier)


def dangling_flags(texts: Sequence[str], selected: Sequence[int]) -> list[bool]:
    """For each selected body position (in the order given), whether it dangles; ``texts`` are the article's
    body sentences in order."""
    ctx = Context.of(texts)
    chosen = set(selected)
    return [ctx.dangling(p, chosen) for p in selected]
