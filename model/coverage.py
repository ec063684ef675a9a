"""Coverage across outlets: one event summary, the claims several articles share, and each outlet's own.

Given several articles on one event (already segmented and embedded in one encoder pass):

* **Event summary**: every article's sentences are scored by the summarizer's multi-article scorer, which
  sees how strongly the *other* articles support each sentence (a claim several outlets carry scores
  higher), and MMR picks across articles within the budget.
* **Shared claims**: sentences from different articles are linked when their embeddings are close
  (cosine >= ``threshold``) or when they repeat the same quotation (a quoted span of two or more content
  words found inside another article's quotation: ``"difficult situation"`` in one report, the full
  "This is a difficult situation we are in" in another). Linked sentences form clusters (union-find);
  a cluster that spans two or more articles is a shared claim, listed with the articles that carry it.
  Sentences attributed to different speakers are never joined (the same words from two people are two
  claims), and a cluster shows a speaker only together with a text of that speaker.
* **Unique claims**: per article, its most salient sentences that no other article supports.

Cost: each article contributes at most ``per_article`` candidate sentences (its most salient), so linking
is O(articles^2 x per_article^2) and independent of article length beyond the linear scoring pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .claims import quoted_spans
from .coherence import Context
from .selection import Candidate, mmr_select, with_antecedents
from .summarizer import ExtractiveSummarizer, body_indices
from .text import Article

_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset("a an the of to in and or is are was were be we it this that on for with as at by have has "
                  "had so now what can do i you he she they".split())


@dataclass
class Claim:
    article: str  # article id
    article_index: int
    index: int  # sentence index in that article
    text: str
    start: int
    end: int
    score: float
    speaker: str | None = None
    commentary: bool | None = None


@dataclass
class ClaimCluster:
    articles: list[str]
    claims: list[Claim]
    speaker: str | None
    text: str  # the most salient member


@dataclass
class Coverage:
    summary: list[Claim]
    shared: list[ClaimCluster]
    unique: dict[str, list[Claim]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "summary": [asdict(c) for c in self.summary],
            "shared": [{"articles": cl.articles, "speaker": cl.speaker, "text": cl.text,
                        "claims": [asdict(c) for c in cl.claims]} for cl in self.shared],
            "unique": {k: [asdict(c) for c in v] for k, v in self.unique.items()},
        }


def _others(embs: Sequence[np.ndarray], cand_idx: Sequence[list[int]], j: int) -> list[np.ndarray]:
    return [e[idx] for m, (e, idx) in enumerate(zip(embs, cand_idx, strict=True)) if m != j]


def _salient(summarizer: ExtractiveSummarizer, articles: Sequence[Article], embs: Sequence[np.ndarray],
             per_article: int) -> list[list[int]]:
    """Each article's ``per_article`` most salient body-sentence indices (single-article scores)."""
    out = []
    for a, e in zip(articles, embs, strict=True):
        body = body_indices(a)
        if len(body) > per_article:
            sal = summarizer.scores(a, e)
            keep = np.sort(np.argsort(-sal, kind="stable")[:per_article])
            body = [body[k] for k in keep]
        out.append(body)
    return out


def multi_scores(articles: Sequence[Article], embs: Sequence[np.ndarray], summarizer: ExtractiveSummarizer,
                 per_article: int = 40) -> list[np.ndarray]:
    """Per article, salience of each body sentence given the support of the other articles."""
    cand_idx = _salient(summarizer, articles, embs, per_article)
    out = []
    for j, (a, e) in enumerate(zip(articles, embs, strict=True)):
        others = _others(embs, cand_idx, j) if len(articles) > 1 else None
        out.append(summarizer.scores(a, e, others))
    return out


def event_summary(articles: Sequence[Article], embs: Sequence[np.ndarray], summarizer: ExtractiveSummarizer, *,
                  max_sentences: int | None = 3, max_words: int | None = None,
                  allowed: Sequence[Sequence[bool]] | None = None,
                  scores: list[np.ndarray] | None = None) -> list[Claim]:
    """MMR over all articles' sentences with multi-article salience, each sentence readable alone (its
    grounding sentences come from its own article); returned by position, then article."""
    scores = scores if scores is not None else multi_scores(articles, embs, summarizer)
    cands: list[Candidate] = []
    for j, (a, sal) in enumerate(zip(articles, scores, strict=True)):
        for k, i in enumerate(body_indices(a)):
            if allowed is None or allowed[j][i]:
                cands.append(Candidate(j, k, i, len(a.sentences[i].text.split()), float(sal[k])))
    contexts = ([Context.of([a.sentences[i].text for i in body_indices(a)]) for a in articles]
                if summarizer.config.coherent else None)
    cands = with_antecedents(summarizer.cap(cands), cands, contexts)
    if not cands:
        return []
    emb = np.stack([embs[c.article][c.index] for c in cands])
    chosen = mmr_select(cands, emb, lam=summarizer.config.mmr_lambda, max_sentences=max_sentences,
                        max_words=max_words, contexts=contexts)
    picked = sorted((cands[j] for j in chosen), key=lambda c: (c.body_pos, c.article))
    return [_claim(articles, c.article, c.index, c.score) for c in picked]


def _claim(articles: Sequence[Article], j: int, i: int, score: float, speakers=None, commentary=None) -> Claim:
    s = articles[j].sentences[i]
    return Claim(articles[j].id, j, i, s.text, s.start, s.end, round(float(score), 4),
                 speakers[j][i] if speakers else None, commentary[j][i] if commentary else None)


def _quote_keys(text: str) -> list[frozenset]:
    """Content-word sets of the quotations in a sentence (two or more content words each)."""
    keys = []
    for span in quoted_spans(text):
        words = [w for w in _WORD.findall(span.lower()) if w not in _STOP]
        if len(words) >= 2:
            keys.append(frozenset(words))
    return keys


def _shares_quote(a: list[frozenset], b: list[frozenset]) -> bool:
    return any(x <= y or y <= x for x in a for y in b)


class _UnionFind:
    """Union-find whose sets keep the speakers their members name (``speaker_key``): two sets that name
    different speakers are not joined."""

    def __init__(self, n: int, speakers: Sequence[str | None] | None = None):
        self.parent = list(range(n))
        self.named = [{speakers[p]} if speakers and speakers[p] else set() for p in range(n)]

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if len(self.named[ra] | self.named[rb]) > 1:
            return False
        lo, hi = min(ra, rb), max(ra, rb)
        self.parent[hi] = lo
        self.named[lo] |= self.named[hi]
        return True


def _surname(name: str) -> str:
    return name.split()[-1].lower() if name.split() else ""


_PRONOUN = frozenset("he she they it we i you".split())


def speaker_key(name: str | None) -> str | None:
    """Who a speaker is, for matching: the last word, lower-cased, singular ("Sergei Lavrov" = "Lavrov",
    "U.S. officials" = "a senior official"); None for no speaker or an unresolved pronoun."""
    key = _surname(name or "").strip(".,;:'’\"")
    if not key or key in _PRONOUN:
        return None
    return key[:-1] if key.endswith("s") and not key.endswith("ss") and len(key) > 3 else key


def _cluster_face(claims: list[Claim]) -> tuple[str | None, str]:
    """The speaker and text a cluster is shown with, always from the same member.

    The speaker is the one at least half of the members name (matched by ``speaker_key``: "Lavrov" =
    "Sergei Lavrov"), in its longest form, and the text the most salient member naming that speaker;
    otherwise both come from the most salient member.
    """
    best = max(claims, key=lambda c: c.score)
    counts: dict[str, int] = {}
    for c in claims:
        if (k := speaker_key(c.speaker)) is not None:
            counts[k] = counts.get(k, 0) + 1
    if counts:
        top = max(counts, key=lambda k: (counts[k], k))
        if counts[top] * 2 >= len(claims):
            members = [c for c in claims if speaker_key(c.speaker) == top]
            face = max(members, key=lambda c: c.score)
            return max((c.speaker for c in members), key=len), face.text
    return best.speaker, best.text


Node = tuple[int, int, int, float]  # (article, sentence index, body position, score)


def _candidate_nodes(articles: Sequence[Article], scores: Sequence[np.ndarray],
                     excluded: Sequence[Sequence[bool]] | None, per_article: int) -> list[Node]:
    """Candidate claims: each article's most salient non-commentary sentences."""
    nodes: list[Node] = []
    for j, a in enumerate(articles):
        body = body_indices(a)
        sal = scores[j]
        order = np.argsort(-sal, kind="stable")
        kept = 0
        for k in order:
            i = body[int(k)]
            if excluded is not None and excluded[j][i]:
                continue
            nodes.append((j, i, int(k), float(sal[k])))
            kept += 1
            if kept >= per_article:
                break
    return nodes


def _link_nodes(articles: Sequence[Article], embs: Sequence[np.ndarray], nodes: list[Node],
                threshold: float, speakers=None) -> tuple[_UnionFind, np.ndarray, np.ndarray]:
    """Union claims across articles that are mutual best matches by meaning, or share a quotation, unless
    that would put two different speakers in one cluster.

    Returns the union-find, which nodes were linked at all, and each node's article number.
    """
    emb = np.stack([embs[j][i] for j, i, _, _ in nodes])
    art = np.array([j for j, _, _, _ in nodes])
    quotes = [_quote_keys(articles[j].sentences[i].text) for j, i, _, _ in nodes]
    uf = _UnionFind(len(nodes), [speaker_key(speakers[j][i]) if speakers else None for j, i, _, _ in nodes])
    linked = np.zeros(len(nodes), dtype=bool)
    members_of = [np.nonzero(art == j)[0] for j in range(len(articles))]
    for j in range(len(articles)):
        for m in range(j + 1, len(articles)):
            pj, pm = members_of[j], members_of[m]
            if not len(pj) or not len(pm):
                continue
            sims = emb[pj] @ emb[pm].T
            best_m, best_j = sims.argmax(1), sims.argmax(0)
            for a, p in enumerate(pj):
                b = int(best_m[a])
                q = int(pm[b])
                # Mutual best matches only, so one broad sentence cannot chain unrelated claims together.
                close = sims[a, b] >= threshold and int(best_j[b]) == a
                quoted = any(quotes[p] and quotes[int(r)] and _shares_quote(quotes[p], quotes[int(r)]) for r in pm)
                if close and uf.union(p, q):
                    linked[p] = linked[q] = True
                if quoted:
                    for r in pm:
                        r = int(r)
                        if quotes[r] and _shares_quote(quotes[p], quotes[r]) and uf.union(p, r):
                            linked[p] = linked[r] = True
    return uf, linked, art


def _shared_clusters(articles: Sequence[Article], nodes: list[Node], uf: _UnionFind, art: np.ndarray,
                     speakers, commentary) -> list[ClaimCluster]:
    groups: dict[int, list[int]] = {}
    for p in range(len(nodes)):
        groups.setdefault(uf.find(p), []).append(p)
    shared = []
    for members in groups.values():
        arts = sorted({int(art[p]) for p in members})
        if len(arts) < 2:
            continue
        members.sort(key=lambda p: (nodes[p][0], nodes[p][1]))
        claims = [_claim(articles, nodes[p][0], nodes[p][1], nodes[p][3], speakers, commentary) for p in members]
        speaker, text = _cluster_face(claims)
        shared.append(ClaimCluster([articles[j].id for j in arts], claims, speaker, text))
    shared.sort(key=lambda cl: (-len(cl.articles), -max(c.score for c in cl.claims), cl.claims[0].article_index,
                                cl.claims[0].index))
    return shared


def _unique_claims(articles: Sequence[Article], nodes: list[Node], linked: np.ndarray, unique_per_article: int,
                   speakers, commentary) -> dict[str, list[Claim]]:
    unique: dict[str, list[Claim]] = {}
    for j, a in enumerate(articles):
        own = [p for p in range(len(nodes)) if nodes[p][0] == j and not linked[p]]
        own.sort(key=lambda p: -nodes[p][3])
        picked = sorted(own[:unique_per_article], key=lambda p: nodes[p][1])
        unique[a.id] = [_claim(articles, j, nodes[p][1], nodes[p][3], speakers, commentary) for p in picked]
    return unique


def build_coverage(articles: Sequence[Article], embs: Sequence[np.ndarray], summarizer: ExtractiveSummarizer, *,
                   max_sentences: int | None = 3, max_words: int | None = None,
                   speakers: Sequence[Sequence[str | None]] | None = None,
                   commentary: Sequence[Sequence[bool]] | None = None,
                   excluded: Sequence[Sequence[bool]] | None = None,
                   claims_only: bool = False, threshold: float = 0.7, per_article: int = 40,
                   unique_per_article: int = 3) -> Coverage:
    """The event summary, shared claim clusters and unique claims for articles on one event.

    ``speakers`` / ``commentary``: per article, per sentence (from the stance pass). ``threshold``: the
    claim-link cosine, the stance checkpoint's calibrated ``link_threshold`` where the Analyzer calls this. ``excluded`` (default:
    ``commentary``) marks sentences that are never claims; with ``claims_only`` they stay out of the event
    summary too.
    """
    scores = multi_scores(articles, embs, summarizer, per_article)
    excluded = excluded if excluded is not None else commentary
    allowed = None
    if excluded is not None and claims_only:
        allowed = [[not c for c in cs] for cs in excluded]
    summary = event_summary(articles, embs, summarizer, max_sentences=max_sentences, max_words=max_words,
                            allowed=allowed, scores=scores)
    for c in summary:
        c.speaker = speakers[c.article_index][c.index] if speakers else None
        c.commentary = commentary[c.article_index][c.index] if commentary else None
    nodes = _candidate_nodes(articles, scores, excluded, per_article)
    if not nodes:
        return Coverage(summary, [], {a.id: [] for a in articles})
    uf, linked, art = _link_nodes(articles, embs, nodes, threshold, speakers)
    return Coverage(summary, _shared_clusters(articles, nodes, uf, art, speakers, commentary),
                    _unique_claims(articles, nodes, linked, unique_per_article, speakers, commentary))
