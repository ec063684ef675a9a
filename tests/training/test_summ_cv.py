"""Issue #28: lead features, the prior blend, exclusion of evaluation articles, the worst-source CV."""

from __future__ import annotations

import numpy as np
import pytest
from presslens.model.summarizer import FEATURES, PRIOR_WEIGHTS, Scorer, lead_block, sentence_features
from presslens.model.text import Article
from presslens.training.summ_cv import (
    Recipe,
    Source,
    blend_with_prior,
    cross_validate,
    exclude_keys,
    fit_recipe,
    is_unseen_writer,
    lead_scores,
)
from presslens.training.summ_data import SummDoc

WIRE = ("A powerful storm closed every school in the city on Monday, officials said. "
        "The storm brought winds of 90 mph and knocked out power to 40,000 homes. "
        "The mayor said crews would work overnight to restore power.\n\n"
        "Schools are expected to reopen on Wednesday. Forecasters expect calmer weather this week.")


def _emb(n: int, seed: int = 0) -> np.ndarray:
    e = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_lead_block_and_leadness():
    emb = _emb(5)
    sim, lead = lead_block(emb, [0, 0, 0, 1, 1])
    block = emb[:3].mean(0)
    block /= np.linalg.norm(block)
    rest = emb[3:].mean(0)
    assert np.allclose(sim, emb @ block, atol=1e-5)
    assert lead == pytest.approx(float(rest / np.linalg.norm(rest) @ block), abs=1e-5)
    # the first paragraph bounds the block; an article whose opening repeats the rest leads strongly
    sim1, _ = lead_block(emb, [0, 1, 1, 1, 1])
    assert np.allclose(sim1, emb @ emb[0], atol=1e-5)
    same = np.repeat(emb[:1], 4, axis=0)
    assert lead_block(same, [0, 0, 1, 1])[1] == pytest.approx(1.0, abs=1e-5)
    assert lead_block(emb[:1], [0])[1] == 0.0


def test_sentence_features_carry_the_lead_columns():
    art = Article(WIRE)
    emb = _emb(len(art.sentences))
    f = sentence_features(art, emb)
    col = {n: j for j, n in enumerate(FEATURES)}
    assert list(f[:, col["first_para"]]) == [1, 1, 1, 0, 0]
    lead = f[0, col["leadness"]]
    assert np.allclose(f[:, col["leadness"]], lead)
    assert np.allclose(f[:, col["leadness_x_inv_position"]], lead / np.arange(1, 6), atol=1e-6)
    assert list(f[:, col["leadness_x_lead3"]] != 0) == [lead != 0] * 3 + [False, False]


def test_blend_with_prior_is_the_mixture_of_logits():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, len(FEATURES))).astype(np.float32)
    fitted = Scorer(mean=list(rng.normal(size=len(FEATURES))), scale=list(rng.uniform(0.5, 2, len(FEATURES))),
                    layers=[{"weight": [list(rng.normal(size=len(FEATURES)))], "bias": [0.3]}])
    prior = Scorer.linear(PRIOR_WEIGHTS)
    for mix in (0.0, 0.4, 1.0):
        got = blend_with_prior(fitted, mix).logits(X)
        assert np.allclose(got, mix * fitted.logits(X) + (1 - mix) * prior.logits(X), atol=1e-4)


def test_evaluation_articles_are_excluded_by_key_and_by_text_hash():
    a, b = "Alpha story about storms. " * 20, "Beta story about elections. " * 20
    docs = [SummDoc("1", [a], ["r"]), SummDoc("2", [b], ["r"]), SummDoc("3", ["  " + a.upper()], ["r"])]
    kept = exclude_keys(docs, [[SummDoc("x", [a], ["r"])]])
    assert [d.id for d in kept] == ["2"]  # same text, other case and spacing: excluded too
    # the same 200-character opening but another ending: one key matches, still excluded
    c = a + " A different ending entirely."
    assert exclude_keys([SummDoc("4", [c], ["r"])], [[SummDoc("x", [a], ["r"])]]) == []
    # the whole text's hash catches an article whose opening differs but whose text is the same
    assert exclude_keys([SummDoc("5", [b], ["r"])], [[SummDoc("y", [b], ["r"])]]) == []


def test_unseen_writer_split_is_fixed_and_about_a_third():
    ids = [str(i) for i in range(400)]
    share = np.mean([is_unseen_writer(i) for i in ids])
    assert 0.2 < share < 0.4
    assert [is_unseen_writer(i) for i in ids] == [is_unseen_writer(i) for i in ids]


def _source(name: str, n: int, seed: int) -> Source:
    rng = np.random.default_rng(seed)
    units, xs, ys, gs = [], [], [], []
    for u in range(n):
        art = Article(WIRE)
        k = len(art.sentences)
        emb = _emb(k, seed * 100 + u)
        units.append((SummDoc(str(u), [WIRE], ["A storm closed the city's schools on Monday."]), [art], [emb]))
        X = sentence_features(art, emb) + rng.normal(scale=0.01, size=(k, len(FEATURES))).astype(np.float32)
        xs.append(X)
        ys.append((np.arange(k) == 0).astype(np.float32))
        gs.append(np.full(k, u))
    src = Source(name, False, units, np.concatenate(xs), np.concatenate(ys), np.concatenate(gs))
    src.lead_name, src.lead = lead_scores(src, 1)
    return src


def test_cross_validation_reports_every_source_against_its_lead():
    srcs = [_source("a", 6, 1), _source("b", 5, 2)]
    res = cross_validate(srcs, Recipe(shares=(("a", 0.5), ("b", 0.5))), folds=2, sentences=1)
    assert set(res) == {"a", "b"}
    for r in res.values():
        assert r["baseline"] == "lead3"
        assert r["rouge1"]["margin"] == pytest.approx(0.0, abs=1e-6)  # learns the first sentence
    single, multi = fit_recipe(srcs, Recipe(mix=0.0))
    assert multi is None and np.allclose(single.logits(srcs[0].X), Scorer.linear(PRIOR_WEIGHTS).logits(srcs[0].X))


def _story(topic: str, n: int = 6) -> str:
    return " ".join(f"The {topic} report, part {k}, says officials met on day {k} to discuss the {topic}." for k in range(n))


def test_choosing_sources_never_hold_an_evaluation_article(tmp_path):
    """gpt4/val (and its gpt3 twin, and NeuS test/val) never enter a choosing source; the pool is deduplicated
    against NEWTS and the writers; the unseen writer part never meets the choosing part."""
    import json

    from presslens.training.summ_cv import EVAL_SETS, WRITERS, article_key, choosing_sources

    d = tmp_path
    val_art, shared_art = _story("harbour"), _story("election")
    for rel, rows in {"sumllm_cnndm/gpt4/val.jsonl": [{"article": val_art, "abstract": "Harbour."}],
                      "sumllm_cnndm/gpt3/val.jsonl": [{"article": val_art, "abstract": "Harbour talks."}],
                      "sumllm_cnndm/gpt4/train.jsonl": [{"article": "  " + val_art.upper(), "abstract": "x"},
                                                        {"article": shared_art, "abstract": "Election."},
                                                        {"article": _story("flood"), "abstract": "Flood."}],
                      "sumllm_cnndm/chatgpt/val.jsonl": [{"article": val_art, "abstract": "Harbour again."}]}.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "newts").mkdir()
    (d / "newts/NEWTS_test_600.csv").write_text(
        "docId,article,summary1,summary2\n"
        f'1,"{shared_art}",Election summary.,Another.\n2,"{val_art}",Harbour summary.,Other.\n')
    (d / WRITERS).parent.mkdir(parents=True)
    (d / WRITERS).write_text(json.dumps([{"article_id": str(i), "article": _story(f"topic{i}"), "summary": "S."}
                                         for i in range(12)]))
    (d / "neus_allsides_mds").mkdir()
    for split, topic in (("train", "storm"), ("test", "budget"), ("val", "strike")):
        (d / f"neus_allsides_mds/{split}.source").write_text(
            f"TITLE=> T ARTICLE=> {_story(topic)} [SEP] TITLE=> U ARTICLE=> {_story(topic + 's')}\n")
        (d / f"neus_allsides_mds/{split}.target").write_text("TITLE=> R ARTICLE=> A roundup.\n")
    src = choosing_sources(str(d), sumllm=10, newts=10, neus=10)
    keys = {name: {article_key(a) for doc in docs for a in doc.articles} for name, docs in src.items()}
    assert article_key(val_art) not in set().union(*keys.values())
    assert keys["sumllm"] == {article_key(_story("flood"))}  # the NEWTS article is not in the pool
    assert keys["newts"] == {article_key(shared_art)}
    assert not keys["writers"] & keys["writers-unseen"]
    assert len(src["writers"]) + len(src["writers-unseen"]) == 12 and src["writers-unseen"]
    assert len(src["neus"]) == 1 and set(EVAL_SETS) >= {"gpt4-val", "neus-test"}


def test_train_limit_scores_every_document_but_trains_on_the_first_n():
    srcs = [_source("a", 6, 1)]
    res = cross_validate(srcs, Recipe(shares=(("a", 1.0),)), folds=2, sentences=1, train_limit={"a": 0})
    prior = cross_validate(srcs, Recipe(mix=0.0), folds=2, sentences=1)
    assert res["a"]["documents"] == 6 and res == prior  # nothing to train on: the prior


def test_soft_labels_are_sentence_rouge_scaled_per_document():
    from presslens.training.rouge import sentence_scores
    from presslens.training.summ_cv import soft_labels

    s = sentence_scores(["The storm closed schools.", "Fans cheered."], ["A storm closed the schools."])
    assert s[0] > 0 and s[1] == 0.0
    src = _source("a", 3, 1)
    soft = soft_labels(src)
    assert soft.shape == src.y.shape and soft.max() == pytest.approx(1.0) and soft.min() >= 0.0
    for u in range(3):
        assert soft[src.g == u].max() == pytest.approx(1.0)
    src.soft = soft
    single, _ = fit_recipe([src], Recipe(shares=(("a", 1.0),), soft=0.5))
    assert np.isfinite(single.logits(src.X)).all()


def test_a_cluster_source_scores_every_lead_baseline_on_every_document_one_article_clusters_too():
    """NeuS clusters cut to a budget can hold one article: every baseline still scores that document, so
    the best one has a score per document (it once had fewer, and cross-validation indexed past its end)."""
    two = [Article(WIRE), Article(WIRE.replace("storm", "flood"))]
    units = [(SummDoc("a", [WIRE, WIRE], ["A storm closed the city's schools on Monday."]), two, [None, None]),
             (SummDoc("b", [WIRE], ["A storm closed the city's schools on Monday."]), [Article(WIRE)], [None])]
    src = Source("neus", True, units, np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0))
    name, per_doc = lead_scores(src, 3)
    assert name in ("lead3", "lead1_each", "lead_round_robin")
    assert len(per_doc) == len(units)
