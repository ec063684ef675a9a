"""ROUGE in one place: the scorer (rouge-score, stemming on), its tokenizer, and the greedy extractive oracle.

Training labels sentences with the oracle and eval reports it as the ceiling; both use
:func:`greedy_oracle`, each naming its objective. rougeLsum is scored on newline-separated sentences (the
summary-level ROUGE-L papers report; plain rougeL reads ~10 points lower).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

ROUGE_TYPES: tuple[str, str, str] = ("rouge1", "rouge2", "rougeLsum")
OBJECTIVES = ("mean-of-references", "best-reference")
# The one oracle objective: training labels (training/summarizer.py) and the reported ceiling (eval) both use
# it through :func:`oracle`. Chosen by the writer 5-fold cross-validation and gpt4/val (README).
ORACLE_OBJECTIVE = "mean-of-references"
ORACLE_MIN_GAIN = 1e-12


@lru_cache(maxsize=1)
def rouge_scorer():
    from rouge_score import rouge_scorer as rs

    # Stemming on, as in the transformers summarization example and most published news ROUGE.
    return rs.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


@lru_cache(maxsize=1)
def rouge_tokenizer():
    from rouge_score import tokenizers

    return tokenizers.DefaultTokenizer(use_stemmer=True)


def best_reference_rouge(prediction: str, targets: Sequence[str]) -> dict[str, float]:
    """F-measure x100 per ROUGE type of ``prediction`` against its best-matching target, type by type.

    Both sides are newline-separated sentences (for rougeLsum). With several targets each type takes the
    one that scores best (``RougeScorer.score_multi``).
    """
    scores = rouge_scorer().score_multi(list(targets), prediction)
    return {k: 100.0 * float(scores[k].fmeasure) for k in ROUGE_TYPES}


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(overlap: int, pred: int, ref: int) -> float:
    if overlap == 0 or pred == 0 or ref == 0:
        return 0.0
    p, r = overlap / pred, overlap / ref
    return 2 * p * r / (p + r)


def _f1_of(chosen: Counter, ref: Counter) -> float:
    return _f1(sum((chosen & ref).values()), sum(chosen.values()), sum(ref.values()))


def _objective(name: str, refs: list[tuple[Counter, Counter]]):
    """score(unigrams, bigrams) of a selection under the named objective."""
    if name == "mean-of-references":  # the mean over references of (R1 F + R2 F) / 2
        def score(uni: Counter, bi: Counter) -> float:
            return sum((_f1_of(uni, r1) + _f1_of(bi, r2)) / 2 for r1, r2 in refs) / len(refs)
    elif name == "best-reference":  # R1 F + R2 F against the reference that scores best
        def score(uni: Counter, bi: Counter) -> float:
            best = 0.0
            for r1, r2 in refs:
                best = max(best, _f1_of(uni, r1) + _f1_of(bi, r2))
            return best
    else:
        raise ValueError(f"unknown oracle objective {name!r} (choose from {', '.join(OBJECTIVES)})")
    return score


def greedy_oracle(sentences: Sequence[str], references: Sequence[str], k: int = 3, *, objective: str,
                  min_gain: float = 1e-12) -> list[int]:
    """Indices (sorted) chosen greedily to maximise ROUGE-1 + ROUGE-2 F1 under ``objective``.

    ``objective``: ``"mean-of-references"`` (training labels today) or ``"best-reference"`` (the reported
    ceiling today). Tokenisation is rouge-score's (lowercase, Porter stemming), so the oracle optimises what
    the report measures; n-grams are counted per sentence (no bigrams across a sentence boundary), as in the
    usual oracle-label recipe. A sentence is added only when it raises the score by more than ``min_gain``;
    the search stops when none does or ``k`` are chosen.
    """
    refs = [r for r in references if r and r.strip()]
    if not refs:
        raise ValueError("the oracle needs at least one non-empty reference")
    if k < 1:
        raise ValueError(f"summary budget must be at least 1 sentence, got {k}")
    n = len(sentences)
    k = min(n, k)
    tok = rouge_tokenizer()
    sent_grams = [(_ngrams(t, 1), _ngrams(t, 2)) for t in (tok.tokenize(s) for s in sentences)]
    score = _objective(objective, [(_ngrams(t, 1), _ngrams(t, 2)) for t in (tok.tokenize(r) for r in refs)])
    selected: list[int] = []
    uni, bi = Counter(), Counter()
    current = 0.0
    while len(selected) < k:
        best_i, best_s = None, current
        for i in range(n):
            if i in selected:
                continue
            s = score(uni + sent_grams[i][0], bi + sent_grams[i][1])
            if s > best_s + min_gain:
                best_i, best_s = i, s
        if best_i is None:
            break
        selected.append(best_i)
        uni += sent_grams[best_i][0]
        bi += sent_grams[best_i][1]
        current = best_s
    return sorted(selected)


def sentence_scores(sentences: Sequence[str], references: Sequence[str]) -> list[float]:
    """Per sentence, the mean over references of (ROUGE-1 F + ROUGE-2 F) / 2 of that sentence alone: the
    sentence-level ROUGE target (Grenander et al., EMNLP 2019), a soft label beside the oracle's 0/1."""
    tok = rouge_tokenizer()
    refs = [(_ngrams(t, 1), _ngrams(t, 2)) for t in (tok.tokenize(r) for r in references if r and r.strip())]
    if not refs:
        raise ValueError("sentence scores need at least one non-empty reference")
    out = []
    for t in (tok.tokenize(s) for s in sentences):
        uni, bi = _ngrams(t, 1), _ngrams(t, 2)
        out.append(sum((_f1_of(uni, r1) + _f1_of(bi, r2)) / 2 for r1, r2 in refs) / len(refs))
    return out


def oracle(sentences: Sequence[str], references: Sequence[str], k: int = 3) -> list[int]:
    """The greedy oracle under :data:`ORACLE_OBJECTIVE`: training labels and the reported ceiling alike."""
    return greedy_oracle(sentences, references, k, objective=ORACLE_OBJECTIVE, min_gain=ORACLE_MIN_GAIN)
