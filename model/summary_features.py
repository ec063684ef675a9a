"""The summarizer's sentence features: what the scorer reads about each body sentence.

Position in the article and in its paragraph, centrality to the article centroid, similarity to the headline
and to the lead, word-frequency salience, length, quotation share, attribution, questions, dangling openers,
similarity to the lead block and the article's lead-ness (how well its opening covers the rest: the gate
between a lead-first wire report and a feature), and, when several articles on one event are summarised
together, how strongly the other articles support each sentence. Every feature is a pass over the sentences
or a product with a fixed-size vector, so the cost is linear in article length. ``model.summarizer`` scores
them and selects.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .claims import attribute
from .text import Article

#: the support feature's paraphrase cosine in scorers that record none (the hand-set value before calibration);
#: a scorer records the one it was fitted with, and the prior takes the stance checkpoint's calibrated one
SUPPORT_THRESHOLD = 0.6

FEATURES = (
    "inv_position",      # 1 / (1 + k) for the k-th body sentence
    "rel_position",      # k / (n - 1)
    "first",             # the first body sentence
    "lead3",             # among the first three body sentences
    "para_first",        # opens a paragraph
    "inv_paragraph",     # 1 / (1 + paragraph number)
    "centrality",        # cosine to the article centroid (= mean similarity to all sentences)
    "centrality_z",      # the same, standardised within the article
    "title_similarity",  # cosine to the headline (0 without one)
    "title_overlap",     # share of the sentence's content words that are in the headline
    "has_title",
    "lead_similarity",   # cosine to the first body sentence
    "lexical",           # mean in-article frequency of the sentence's content words (SumBasic)
    "lexical_z",
    "log_words",
    "short",             # fewer than 8 words
    "long",              # more than 40 words
    "quote_fraction",
    "attributed",        # reported speech with a speaker
    "question",
    "dangling",          # opens with a pronoun or connective that needs the previous sentence
    "digits",
    "no_end_punct",      # no closing punctuation: a subheading, caption or fragment
    "capitals",          # share of capitalised words after the first (names, places)
    "support_max",       # best cosine to a sentence of another article on the same event (0 alone)
    "support_count",     # share of the other articles holding a close paraphrase (cosine >= support_threshold)
    "multi",             # 1 when summarising several articles together
    "commentary",        # the stance model's P(writer's commentary) for the sentence (0 without one)
    # the lead, first-class (issue #28): where the sentence sits against the opening block, and how much the
    # article's opening already covers the rest (an article-level gate: high for inverted-pyramid wire reports)
    "first_para",        # in the first paragraph
    "lead_block_similarity",  # cosine to the centroid of the lead block (first paragraph, at most 3 sentences)
    "leadness",          # article level: cosine of the lead block's centroid to the rest's centroid
    "leadness_x_inv_position",  # leadness times inv_position: position counts more in a lead-first article
    "leadness_x_lead3",
    "leadness_x_centrality_z",
)

_STOP = frozenset(
    "a an the of to in and or but is are was were be been being on for that this these those with as by at "
    "from it its he she they them his her their we our you your i me my not no so if than then there here "
    "has have had do does did will would can could may might must shall should said says say also after "
    "before about into over more most some any all one two new just who whom which what when where why how "
    "up out off only very mr mrs ms".split()
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'’-]*")
_DANGLING = re.compile(
    r"^(?:he|she|they|it|his|her|their|its|this|that|these|those|but|and|so|however|also|meanwhile|still|"
    r"yet|instead|then|there|such|both|another|other|others)\b",
    re.IGNORECASE,
)


def _content_tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP and len(t) > 1]


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-6 else np.zeros_like(x)


def body_indices(article: Article) -> list[int]:
    return [i for i, s in enumerate(article.sentences) if not s.is_title]


def _paragraph_info(article: Article, body: list[int]) -> tuple[list[int], list[bool]]:
    """Paragraph number and paragraph-opening flag per body sentence (paragraphs are blank-line runs)."""
    text = article.clean_text
    para_no, opens = [], []
    p, last_end = -1, None
    for i in body:
        s = article.sentences[i]
        gap = text[last_end:s.start] if last_end is not None else "\n\n"
        new_para = "\n" in gap
        if new_para:
            p += 1
        para_no.append(p)
        opens.append(new_para)
        last_end = s.end
    return para_no, opens


def support_features(emb: np.ndarray, others: Sequence[np.ndarray],
                     threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
    """(n, 2): best cosine to another article's sentences, and the share of other articles with a close one.

    ``others`` holds each other article's (capped) candidate embeddings, so the cost is linear in ``n``.
    """
    out = np.zeros((len(emb), 2), dtype=np.float32)
    if not others or len(emb) == 0:
        return out
    best_per_article = np.stack(
        [(emb @ o.T).max(1) if len(o) else np.zeros(len(emb), dtype=np.float32) for o in others], axis=1
    )
    out[:, 0] = best_per_article.max(1)
    out[:, 1] = (best_per_article >= threshold).mean(1)
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (float(np.linalg.norm(v)) + 1e-9)


def lead_block(emb: np.ndarray, para_no: Sequence[int], size: int = 3) -> tuple[np.ndarray, float]:
    """(cosine of each sentence to the lead block's centroid, the article's lead-ness).

    The lead block is the first paragraph's sentences, at most ``size`` (the first sentence when the first
    paragraph is longer; the first ``size`` sentences when the text has no paragraphs). Lead-ness is the cosine
    of the block's centroid to the centroid of the sentences after it (0 when nothing follows): needs no
    reference, costs two means, and is high when the opening states what the rest goes on to report.
    """
    n = len(emb)
    k = sum(1 for p in para_no[:size] if p == para_no[0]) if n else 0
    k = max(1, min(k, size, n))
    block = _unit(emb[:k].mean(0))
    rest = emb[k:]
    leadness = float(_unit(rest.mean(0)) @ block) if len(rest) else 0.0
    return emb @ block, leadness


def sentence_features(article: Article, embeddings: np.ndarray,
                      others: Sequence[np.ndarray] | None = None,
                      commentary: np.ndarray | None = None,
                      support_threshold: float = SUPPORT_THRESHOLD) -> np.ndarray:
    """(n_body, len(FEATURES)) features for the body sentences; ``embeddings`` covers all sentences.

    ``others``: embeddings of candidate sentences from other articles on the same event (coverage mode).
    ``commentary``: P(commentary) per sentence (all sentences, as ``embeddings``) from the stance model.
    """
    body = body_indices(article)
    titles = [i for i, s in enumerate(article.sentences) if s.is_title]
    n = len(body)
    feats = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if n == 0:
        return feats
    emb = embeddings[body]
    centroid = emb.mean(0)
    centroid = centroid / (np.linalg.norm(centroid) + 1e-9)
    central = emb @ centroid
    title_sim = emb @ embeddings[titles[0]] if titles else np.zeros(n, dtype=np.float32)
    lead_sim = emb @ emb[0]
    texts = [article.sentences[i].text for i in body]
    toks = [_content_tokens(t) for t in texts]
    freq = Counter(t for ts in toks for t in set(ts))  # in how many sentences a word occurs
    lexical = np.array([np.mean([freq[t] for t in ts]) / n if ts else 0.0 for ts in toks], dtype=np.float32)
    title_words = set(_content_tokens(article.sentences[titles[0]].text)) if titles else set()
    para_no, opens = _paragraph_info(article, body)
    support = support_features(emb, others or [], support_threshold)
    cols = {name: j for j, name in enumerate(FEATURES)}
    central_z, lexical_z = _zscore(central), _zscore(lexical)
    block_sim, leadness = lead_block(emb, para_no)
    for k, text in enumerate(texts):
        words = text.split()
        att = attribute(text)
        caps = sum(1 for w in words[1:] if w[:1].isupper())
        row = {
            "inv_position": 1.0 / (1.0 + k),
            "rel_position": k / max(1, n - 1),
            "first": float(k == 0),
            "lead3": float(k < 3),
            "para_first": float(opens[k]),
            "inv_paragraph": 1.0 / (1.0 + para_no[k]),
            "centrality": central[k],
            "centrality_z": central_z[k],
            "title_similarity": title_sim[k],
            "title_overlap": (sum(t in title_words for t in toks[k]) / len(toks[k])) if toks[k] else 0.0,
            "has_title": float(bool(titles)),
            "lead_similarity": lead_sim[k],
            "lexical": lexical[k],
            "lexical_z": lexical_z[k],
            "log_words": math.log1p(len(words)),
            "short": float(len(words) < 8),
            "long": float(len(words) > 40),
            "quote_fraction": att.quote_fraction,
            "attributed": float(att.speaker is not None),
            "question": float(text.rstrip(" \"'”’)").endswith("?")),
            "dangling": float(bool(_DANGLING.match(text.lstrip("\"“‘' ")))),
            "digits": float(any(c.isdigit() for c in text)),
            "no_end_punct": float(not re.search(r"[.!?…][\"'”’)\]]*\s*$", text)),
            "capitals": caps / max(1, len(words) - 1),
            "support_max": support[k, 0],
            "support_count": support[k, 1],
            "multi": float(others is not None and len(others) > 0),
            "commentary": float(commentary[body[k]]) if commentary is not None else 0.0,
            "first_para": float(para_no[k] == 0),
            "lead_block_similarity": block_sim[k],
            "leadness": leadness,
            "leadness_x_inv_position": leadness / (1.0 + k),
            "leadness_x_lead3": leadness * float(k < 3),
            "leadness_x_centrality_z": leadness * central_z[k],
        }
        for name, value in row.items():
            feats[k, cols[name]] = value
    return feats
