"""The readable-alone rule (model/coherence.py) and the selector that follows it (model/selection.py)."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.model.coherence import CONNECTIVE, DEMONSTRATIVE, PRONOUN, Context, dangling_flags, opener
from presslens.model.selection import Candidate, mmr_select
from presslens.model.summarizer import ExtractiveSummarizer, Scorer, ScorerConfig
from presslens.model.text import Article

TEXT = ("Minister resigns over contracts\n\n"
        "The transport minister, John Smith, resigned on Tuesday after a report on public contracts.\n\n"
        "The report found that contracts worth millions went to friends of officials.\n\n"
        "He said he had done nothing wrong and would clear his name.\n\n"
        "Opposition leaders welcomed the resignation of the minister.\n\n"
        "But they called for a full public inquiry into the contracts.\n\n"
        "A new minister will be named next week, officials said.")
BODY = [s.text for s in Article(TEXT).body_sentences]


@pytest.mark.parametrize("text, kind", [
    ("He said he would now look at it.", PRONOUN),
    ("His intervention in the debate was unexpected.", PRONOUN),
    ("\"It can get ugly fast,\" Kerry warned.", PRONOUN),
    ("But the champion trainer said no.", CONNECTIVE),
    ("However, the talks failed.", CONNECTIVE),
    ("In addition, crews worked overnight.", CONNECTIVE),
    ("These measures will cost millions.", DEMONSTRATIVE),
    ("It is likely that rain will fall.", None),        # expletive "it"
    ("This week the government fell.", None),           # time deixis
    ("There is a risk of flooding.", None),             # existential
    ("Then-President Obama spoke in Berlin.", None),
    ("We will not back down, the union said.", None),   # the speaker's voice, not a reference back
    ("Thesis defences were cancelled.", None),          # a word that only starts like "the"/"this"
])
def test_openers(text, kind):
    got = opener(text)
    assert (got[1] if got else None) == kind


def test_dangling_needs_the_previous_sentence_or_the_named_referent():
    he, but = BODY.index("He said he had done nothing wrong and would clear his name."), 4
    assert BODY[but].startswith("But they")
    # "He said" alone: the sentence naming him is not in the summary
    assert dangling_flags(BODY, [he, 3]) == [True, False]
    # its predecessor selected: grounded
    assert dangling_flags(BODY, [1, he]) == [False, False]
    # Smith is named earlier in the summary (the nearest named sentence before "He" names him): grounded
    assert dangling_flags(BODY, [0, he]) == [False, False]
    # a connective needs the sentence before it, names or not
    assert dangling_flags(BODY, [0, 3, but]) == [False, False, False]
    assert dangling_flags(BODY, [0, but]) == [False, True]
    # the first body sentence reads beside the headline whatever it opens with
    assert not Context.of(["He arrived on Monday.", "Rain fell."]).dangling(0, {0})


def _scored(article: Article, favourite: str, dim: int = 8):
    """Embeddings all different (MMR has nothing to drop) and a scorer that ranks ``favourite`` first."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(article.sentences), dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    summ = ExtractiveSummarizer(ScorerConfig(single=Scorer.linear({"dangling": 4.0, "rel_position": -1.0}),
                                             mmr_lambda=1.0))
    assert max(zip(summ.scores(article, emb), [s.text for s in article.body_sentences], strict=True))[1] == favourite
    return summ, emb


def test_selector_takes_the_antecedent_when_the_budget_allows():
    a = Article(TEXT)
    he = "He said he had done nothing wrong and would clear his name."
    summ, emb = _scored(a, he)
    two = [s.text for s in summ.summarize(a, emb, max_sentences=2)]
    assert he in two and two[two.index(he) - 1] == "The report found that contracts worth millions went to friends of officials."
    # one sentence: "He said" cannot stand alone, so another sentence is preferred
    one = [s.text for s in summ.summarize(a, emb, max_sentences=1)]
    assert one and he not in one
    # the same scorer without the rule picks it alone
    loose = ExtractiveSummarizer(ScorerConfig(single=summ.config.single, mmr_lambda=1.0, coherent=False))
    assert [s.text for s in loose.summarize(a, emb, max_sentences=1)] == [he]
    # whatever the budget, nothing in the summary dangles and it keeps article order
    for k in range(1, 7):
        out = summ.summarize(a, emb, max_sentences=k)
        pos = [BODY.index(s.text) for s in out]
        assert pos == sorted(pos) and not any(dangling_flags(BODY, pos))


def test_word_budget_is_exact_and_not_capped_by_a_sentence_count():
    a = Article(TEXT)
    summ, emb = _scored(a, "He said he had done nothing wrong and would clear his name.")
    for budget in (12, 25, 40, 60, 200):
        out = summ.summarize(a, emb, max_sentences=None, max_words=budget)
        assert sum(len(s.text.split()) for s in out) <= budget
    assert len(summ.summarize(a, emb, max_sentences=None, max_words=200)) == len(BODY)
    # a budget below every sentence's length: nothing fits, nothing is cut
    assert summ.summarize(a, emb, max_sentences=None, max_words=5) == []


def test_mmr_unit_must_fit_the_budget_whole():
    ctx = Context.of(["Kerry met Lavrov in London.", "Rain fell on the city all day.", "But they agreed on nothing."])
    cands = [Candidate(0, k, k + 1, w, s) for k, (w, s) in enumerate([(5, 0.5), (7, 0.4), (5, 0.9)])]
    emb = np.eye(3, dtype=np.float32)
    assert sorted(mmr_select(cands, emb, lam=1.0, max_sentences=2, max_words=None, contexts=[ctx])) == [1, 2]
    # 12 words take "Rain fell ... But they ..." (7 + 5); 11 do not, so the best single sentence that fits wins
    assert sorted(mmr_select(cands, emb, lam=1.0, max_sentences=3, max_words=12, contexts=[ctx])) == [1, 2]
    assert mmr_select(cands, emb, lam=1.0, max_sentences=3, max_words=11, contexts=[ctx]) == [0]


def test_event_summary_grounds_each_sentence_in_its_own_article():
    from presslens.model.coverage import event_summary

    a = Article(TEXT)
    b = Article("Inquiry demanded after minister quits\n\n"
                "Opposition parties demanded a public inquiry on Wednesday.\n\n"
                "They said the contracts had cost taxpayers millions.\n\n"
                "The government said an inquiry was not needed.")
    summ, emb_a = _scored(a, "He said he had done nothing wrong and would clear his name.")
    emb_b = np.random.default_rng(1).normal(size=(len(b.sentences), emb_a.shape[1])).astype(np.float32)
    emb_b /= np.linalg.norm(emb_b, axis=1, keepdims=True)
    for k in range(1, 6):
        claims = event_summary([a, b], [emb_a, emb_b], summ, max_sentences=k)
        assert len(claims) <= k
        for j, art in enumerate((a, b)):
            body = [s.text for s in art.body_sentences]
            pos = sorted(body.index(c.text) for c in claims if c.article_index == j)
            assert not any(dangling_flags(body, pos))
