"""Summarization data loaders, ROUGE/oracle helpers, `presslens train summarizer` and `eval summarize`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from presslens.training.data import DataError
from presslens.training.rouge import greedy_oracle
from presslens.training.summ_data import Rouge, load_summ, parse_neus_item, reference_lines

ART1 = ("Storm closes city schools\n\n"
        "A powerful storm closed every school in the city on Monday, officials said.\n\n"
        "The storm brought winds of 90 mph and knocked out power to 40,000 homes.\n\n"
        "The mayor said crews would work overnight.\n\n"
        "Schools are expected to reopen on Wednesday.")
ART2 = ("Team wins the cup\n\n"
        "The home team won the cup final 2-1 on Saturday.\n\n"
        "Fans celebrated in the streets until late.\n\n"
        "The coach praised the defence after the match.\n\n"
        "It was the club's first title in 20 years.")


def _writers(tmp_path):
    rows = [{"article_id": "s1", "article": ART1, "summary": "A storm closed city schools on Monday. Power was cut to 40,000 homes."},
            {"article_id": "s1", "article": ART1, "summary": "Schools shut by a storm will reopen Wednesday."},
            {"article_id": "c2", "article": ART2, "summary": "The home team won the cup 2-1, its first title in 20 years."}]
    p = tmp_path / "writers.json"
    p.write_text(json.dumps(rows))
    return p


def _neus(tmp_path):
    src = tmp_path / "test.source"
    tgt = tmp_path / "test.target"
    a = "TITLE=> Storm shuts schools. ARTICLE=> A storm closed every school in the city on Monday. Power failed."
    b = "TITLE=> Schools closed. ARTICLE=> City schools were closed by a powerful storm on Monday. Crews worked."
    c = "TITLE=> Storm hits city. ARTICLE=> Winds of 90 mph hit the city on Monday. Schools will reopen Wednesday."
    src.write_text(f"{a} [SEP] {b} [SEP] {c}\n{a} [SEP] {c}\n")
    tgt.write_text("TITLE=> Storm. ARTICLE=> A storm closed city schools on Monday.\n"
                   "TITLE=> Storm. ARTICLE=> Schools will reopen Wednesday after the storm.\n")
    return src


def test_writers_rows_group_by_article(tmp_path):
    docs = load_summ(_writers(tmp_path), "writers")
    assert [d.id for d in docs] == ["s1", "c2"]
    assert len(docs[0].references) == 2 and not docs[0].is_cluster


def test_neus_clusters_and_titles(tmp_path):
    docs = load_summ(_neus(tmp_path), "neus")
    assert len(docs) == 2 and len(docs[0].articles) == 3 and docs[0].is_cluster
    assert docs[0].titles[0] == "Storm shuts schools."
    assert docs[0].articles[0].startswith("A storm closed")
    assert docs[0].references == ["A storm closed city schools on Monday."]
    assert parse_neus_item("TITLE=> T. ARTICLE=> Body here.") == ("T.", "Body here.")
    # either file of the pair, or DIR:split
    assert len(load_summ(str(tmp_path / "test.target"), "neus")) == 2
    assert len(load_summ(f"{tmp_path}:test", "neus")) == 2


def test_jsonl_and_newts(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"id": "x", "article": ART1, "summaries": ["a", "b"]}) + "\n"
                 + json.dumps({"articles": [ART1, ART2], "summary": "c"}) + "\n")
    docs = load_summ(p, "jsonl")
    assert docs[0].references == ["a", "b"] and docs[1].is_cluster
    csv = tmp_path / "newts.csv"
    csv.write_text(',docId,article,summary1,summary2\n0,d1,"' + ART1.replace('"', '""') + '",storm,schools\n'
                   '1,d1,"' + ART1.replace('"', '""') + '",power,storm\n')
    newts = load_summ(csv, "newts")
    assert len(newts) == 1 and newts[0].references == ["storm", "schools", "power"]


@pytest.mark.parametrize("content,fmt", [("{}", "writers"), ("[{\"article_id\": 1}]", "writers"),
                                         ("not json", "writers"), ('{"article": ""}\n', "jsonl")])
def test_bad_data_is_a_data_error(tmp_path, content, fmt):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(DataError):
        load_summ(p, fmt)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_summ(tmp_path / "missing.json", "writers")
    with pytest.raises(DataError, match="unknown"):
        load_summ(tmp_path, "xml")


def test_rouge_and_oracle():
    r = Rouge()
    ref = reference_lines("The cat sat on the mat. It was happy.")
    assert ref == "The cat sat on the mat.\nIt was happy."
    perfect = r.score(["The cat sat on the mat.", "It was happy."], [ref])
    assert perfect["rouge1"] == pytest.approx(100.0) and perfect["rougeLsum"] == pytest.approx(100.0)
    # best over references
    assert r.score(["Dogs bark."], [ref, "Dogs bark."])["rouge1"] == pytest.approx(100.0)
    sents = ["Nothing related here.", "The cat sat on the mat.", "Weather was fine.", "It was happy."]
    assert greedy_oracle(sents, ["The cat sat on the mat. It was happy."], k=3, objective="mean-of-references") == [1, 3]


def test_train_then_evaluate(tmp_path, tiny_encoder_dir):
    from presslens.api.cli import main
    from presslens.model.summarizer import ExtractiveSummarizer

    writers = _writers(tmp_path)
    out = tmp_path / "summ"
    rc = main(["train", "summarizer", "--data", f"writers:{writers}", "--cluster-data", f"neus:{_neus(tmp_path)}",
               "--out", str(out), "--encoder", str(tiny_encoder_dir), "--sentences", "2",
               "--embedding-cache", str(tmp_path / "cache.npz"), "--cv", "2", "--data-weight", "2"])
    assert rc == 0
    summ = ExtractiveSummarizer.from_pretrained(out)
    assert summ.config.training["data_weight"] == [2.0]
    assert summ.trained and summ.config.multi is not None
    assert json.loads((out / "training_args.json").read_text())["sentences"] == 2
    assert set(summ.config.training["cv"]) >= {"presslens", "lead", "folds"}
    assert (tmp_path / "cache.npz").is_file()

    report = tmp_path / "report"
    rc = main(["eval", "summarize", "--data", str(writers), "--format", "writers", "--out", str(report),
               "--summarizer", str(out), "--encoder", str(tiny_encoder_dir), "--sentences", "2"])
    assert rc == 0
    metrics = json.loads((report / "metrics.json").read_text())
    systems = metrics["systems"]
    assert {"presslens", "lead3", "textrank", "oracle", "centroid", "prior"} <= set(systems)
    for m in systems.values():
        assert set(m) >= {"rouge1", "rouge2", "rougeLsum"} and 0 <= m["rouge1"]["value"] <= 100
    assert systems["oracle"]["rouge1"]["value"] >= systems["lead3"]["rouge1"]["value"]
    # the ablation and the ceiling are never "the strongest baseline"
    assert metrics["strongest_baseline"] in {"lead3", "textrank", "centroid"}
    assert metrics["n"] == 2 and metrics["run"]["format"] == "writers"
    assert (report / "report.md").is_file() and (report / "rouge.png").stat().st_size > 0
    assert "presslens" in (report / "predictions.csv").read_text()
    run = json.loads((report / "run.json").read_text())
    assert run["settings"]["documents"] == 2 and run["data"]

    rc = main(["eval", "summarize", "--data", str(_neus(tmp_path)), "--format", "neus", "--out", str(report),
               "--encoder", str(tiny_encoder_dir), "--summarizer", str(out)])
    assert rc == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"presslens", "lead3", "lead1_each", "lead_round_robin"} <= set(metrics["systems"])
    assert metrics["run"]["unit"] == "cluster"


def test_training_embeds_with_the_stance_checkpoints_encoder(tmp_path, tiny_stance_dir):
    """The default 'serving' encoder is the stance model's, the one the Analyzer embeds with at inference."""
    from presslens.api.cli import main
    from presslens.model.pipeline import Analyzer
    from presslens.model.summarizer import ExtractiveSummarizer
    from presslens.training.summarizer import load_encoder

    encoder, key, commentary = load_encoder("serving", str(tiny_stance_dir))
    texts = ["Lavrov said the talks were difficult.", "It was, frankly, a mess."]
    served = Analyzer.load(tiny_stance_dir).encoder.encode(texts)
    np.testing.assert_allclose(encoder.encode(texts), served, atol=1e-6)
    assert key.startswith("serving:") and len(key) == len("serving:") + 64
    probs = commentary(served)  # the stance head over those embeddings feeds the commentary feature
    assert probs.shape == (2,) and ((probs >= 0) & (probs <= 1)).all()

    out = tmp_path / "summ"
    assert main(["train", "summarizer", "--data", f"writers:{_writers(tmp_path)}", "--model", str(tiny_stance_dir),
                 "--out", str(out), "--sentences", "2", "--embedding-cache", str(tmp_path / "c.npz")]) == 0
    assert ExtractiveSummarizer.from_pretrained(out).config.training["encoder"] == f"serving ({key})"
    assert f"features from encoder: serving ({key})" in (out / "README.md").read_text()
    with np.load(tmp_path / "c.npz") as z:  # cached vectors are tied to those weights
        assert str(z["encoder"]) == key


def test_eval_errors_are_one_line(tmp_path, capsys):
    from presslens.api.cli import main

    assert main(["eval", "summarize", "--data", str(tmp_path / "nope.json"), "--format", "writers",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("presslens: error:") and "no such file" in err
    assert main(["train", "summarizer", "--out", str(tmp_path / "x")]) == 2


def test_dangling_openers_on_hand_made_articles():
    from presslens.eval.metrics import dangling_openers
    from presslens.model.text import Article

    a = Article("Transport minister quits post\n\n"
                "The transport minister, John Smith, resigned on Tuesday.\n\n"
                "A report found that contracts went to friends of officials.\n\n"
                "He said he had done nothing wrong.\n\n"
                "Opposition leaders welcomed the move.")
    report, he_said, opposition = 2, 3, 4  # sentence indices (0 is the headline)
    assert a.sentences[he_said].text.startswith("He said")
    # a dangling "He said": the sentence before it is out, and nothing earlier in the summary names him
    assert dangling_openers([a], [(0, he_said), (0, opposition)]) == [True, False]
    # its antecedent selected: not counted
    assert dangling_openers([a], [(0, report), (0, he_said)]) == [False, False]
    # clusters: each sentence is judged within its own article
    b = Article("Storm hits the coast\n\nA storm hit the coast.\n\nBut the damage was light.")
    assert dangling_openers([b, a], [(0, 2), (1, he_said)]) == [True, True]
    assert dangling_openers([b, a], [(0, 1), (0, 2)]) == [False, False]


def test_eval_reports_dangling_openers_per_document(tmp_path, tiny_encoder_dir):
    import csv

    from presslens.api.cli import main

    rows = [{"article_id": "m1", "summary": "John Smith resigned over contracts; he denies wrongdoing.",
             "article": "Transport minister quits post\n\nThe transport minister resigned on Tuesday.\n\n"
                        "A report found that contracts went to friends of officials.\n\n"
                        "He said he had done nothing wrong.\n\nBut critics wanted an inquiry."}]
    data = tmp_path / "w.json"
    data.write_text(json.dumps(rows))
    out = tmp_path / "r"
    assert main(["eval", "summarize", "--data", str(data), "--format", "writers", "--out", str(out),
                 "--encoder", str(tiny_encoder_dir), "--sentences", "2"]) == 0
    coherence = json.loads((out / "metrics.json").read_text())["coherence"]
    assert coherence["lead3"] == {"sentences": 2, "dangling": 0, "dangling_share": 0.0}
    assert coherence["presslens"]["dangling"] == 0  # the selector never leaves an opener dangling
    table = list(csv.DictReader((out / "predictions.csv").open()))
    by_system = {r["system"]: r for r in table}
    for r in table:  # "He" has no named referent: only the sentence before it grounds it, as for "But"
        flagged = [s for s in r["summary"].split("\n") if s.startswith(("He said", "But critics"))]
        prev_in = {"He said he had done nothing wrong.": "A report found that contracts went to friends of officials.",
                   "But critics wanted an inquiry.": "He said he had done nothing wrong."}
        want = sum(prev_in[s] not in r["summary"].split("\n") for s in flagged)
        assert int(r["dangling"]) == want and int(r["sentences"]) == len(r["summary"].split("\n"))
    assert any(int(r["dangling"]) for r in table)  # some baseline leaves "He said" or "But" dangling
    assert "## Readable alone" in (out / "report.md").read_text()
    assert set(by_system) >= {"presslens", "no_coherence", "lead3", "oracle"}


def test_data_weights_need_one_positive_weight_per_source():
    from presslens.training.summarizer import TrainSummarizerArgs

    with pytest.raises(DataError, match="one positive weight per --data source"):
        TrainSummarizerArgs(data=["writers:a.json", "sumllm:b"], data_weight=[10.0], out="x")
    with pytest.raises(DataError, match="one positive weight"):
        TrainSummarizerArgs(data=["writers:a.json"], data_weight=[0.0], out="x")
    assert TrainSummarizerArgs(data=["writers:a.json", "sumllm:b"], data_weight=[10.0, 1.0], out="x").data_weight
