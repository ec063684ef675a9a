"""Choosing summary sentences: MMR within a sentence and word budget, keeping every sentence readable alone.

Maximal marginal relevance picks, round by round, the candidate with the best ``lam * salience - (1 - lam)
* (similarity to the closest chosen sentence)``. Two rules sit on top of it:

* **Exact budgets.** A pick must fit both budgets whole: never more than ``max_sentences`` sentences, never
  more than ``max_words`` words (whitespace-separated tokens), the first pick included; the rounds go on
  while a shorter candidate still fits. A word budget below every sentence's length gives an empty summary.
* **Readable alone** (``model.coherence``). A candidate that would dangle (it opens with "He", "This",
  "But", ... and what it refers to is not in the summary) comes as a unit with the sentences before it that
  ground it (at most ``MAX_CHAIN`` of them); the unit competes with the mean value of its members and must
  fit the budget whole. A candidate whose grounding sentence is not available (left out by ``allowed``, or a
  chain too long) is passed over, so another sentence is preferred.

The summary is returned in article order by the callers; the cost stays O(budget x candidates x chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .coherence import Context

#: at most this many preceding sentences are pulled in to ground a chosen one
MAX_CHAIN = 2


@dataclass
class Candidate:
    """A sentence competing for a place in a (possibly multi-article) summary."""

    article: int
    body_pos: int
    index: int
    words: int
    score: float


def with_antecedents(capped: list[Candidate], pool: Sequence[Candidate],
                     contexts: Sequence[Context] | None) -> list[Candidate]:
    """``capped`` plus, from ``pool``, the sentences before each dependent candidate that could ground it (a
    capped candidate set may have dropped them)."""
    if not contexts:
        return capped
    where = {(c.article, c.body_pos): c for c in pool}
    have = {(c.article, c.body_pos) for c in capped}
    extra = []
    for c in capped:
        ctx, pos = contexts[c.article], c.body_pos
        for _ in range(MAX_CHAIN):
            if not ctx.dependent(pos):
                break
            pos -= 1
            prev = where.get((c.article, pos))
            if prev is None:
                break
            if (c.article, pos) not in have:
                have.add((c.article, pos))
                extra.append(prev)
    return capped + extra


def _unit(j: int, cands: Sequence[Candidate], contexts: Sequence[Context], selected: dict[int, set[int]],
          where: dict[tuple[int, int], int]) -> list[int] | None:
    """Candidate ``j`` with the candidates it needs to read alone, or None when they are not available."""
    a = cands[j].article
    ctx = contexts[a]
    sel = set(selected.get(a, ()))
    pos = cands[j].body_pos
    sel.add(pos)
    members = [j]
    while ctx.dangling(pos, sel):
        prev = where.get((a, pos - 1))
        if prev is None or len(members) > MAX_CHAIN:
            return None
        members.append(prev)
        pos -= 1
        sel.add(pos)
    return members


def mmr_select(cands: Sequence[Candidate], emb: np.ndarray, *, lam: float, max_sentences: int | None,
               max_words: int | None, contexts: Sequence[Context] | None = None) -> list[int]:
    """Indices into ``cands`` chosen by MMR within the budgets; with ``contexts`` (one per article that
    ``Candidate.article`` indexes) every chosen sentence is grounded (see the module docstring)."""
    chosen: list[int] = []
    words = 0
    max_sim = np.zeros(len(cands), dtype=np.float32)  # similarity to the closest chosen sentence
    taken = np.zeros(len(cands), dtype=bool)
    sal = np.array([c.score for c in cands], dtype=np.float32)
    where = {(c.article, c.body_pos): j for j, c in enumerate(cands)}
    selected: dict[int, set[int]] = {}
    while cands and (max_sentences is None or len(chosen) < max_sentences):
        val = lam * sal - (1 - lam) * max_sim
        best, best_val = None, -np.inf
        for j in np.argsort(-val, kind="stable"):
            if taken[j]:
                continue
            unit = [int(j)] if contexts is None else _unit(int(j), cands, contexts, selected, where)
            if unit is None or (max_sentences is not None and len(chosen) + len(unit) > max_sentences):
                continue
            if max_words is not None and words + sum(cands[m].words for m in unit) > max_words:
                continue
            unit_val = float(np.mean(val[unit]))
            if unit_val > best_val:
                best, best_val = unit, unit_val
        if best is None:
            break
        for m in best:
            chosen.append(m)
            taken[m] = True
            words += cands[m].words
            selected.setdefault(cands[m].article, set()).add(cands[m].body_pos)
            max_sim = np.maximum(max_sim, emb @ emb[m])
    return chosen
