"""Summarization data loaders, ROUGE/oracle helpers, `presslens train summarizer` and `eval summarize`."""

from __future__ import annotations

import json

import pytest

from training.data import DataError
from training.summ_data import NgramOracle, Rouge, load_summ, parse_neus_item, reference_lines

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
    assert NgramOracle().greedy(sents, ["The cat sat on the mat. It was happy."], k=3) == [1, 3]


def test_train_then_evaluate(tmp_path, tiny_encoder_dir):
    from api.cli import main
    from model.summarizer import ExtractiveSummarizer

    writers = _writers(tmp_path)
    out = tmp_path / "summ"
    rc = main(["train", "summarizer", "--data", f"writers:{writers}", "--cluster-data", f"neus:{_neus(tmp_path)}",
               "--out", str(out), "--encoder", str(tiny_encoder_dir), "--sentences", "2",
               "--embedding-cache", str(tmp_path / "cache.npz")])
    assert rc == 0
    summ = ExtractiveSummarizer.from_pretrained(out)
    assert summ.trained and summ.config.multi is not None
    assert json.loads((out / "training_args.json").read_text())["sentences"] == 2
    assert (tmp_path / "cache.npz").is_file()

    report = tmp_path / "report"
    rc = main(["eval", "summarize", "--data", str(writers), "--format", "writers", "--out", str(report),
               "--summarizer", str(out), "--encoder", str(tiny_encoder_dir), "--sentences", "2"])
    assert rc == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"presslens", "lead3", "oracle", "centroid", "prior"} <= set(metrics)
    for m in metrics.values():
        assert set(m) >= {"rouge1", "rouge2", "rougeLsum"} and 0 <= m["rouge1"] <= 100
    assert metrics["oracle"]["rouge1"] >= metrics["lead3"]["rouge1"]
    assert (report / "report.md").is_file() and (report / "rouge.png").stat().st_size > 0
    run = json.loads((report / "run.json").read_text())
    assert run["documents"] == 2 and all(len(v) == 64 for v in run["data"].values())

    rc = main(["eval", "summarize", "--data", str(_neus(tmp_path)), "--format", "neus", "--out", str(report),
               "--encoder", str(tiny_encoder_dir), "--summarizer", str(out)])
    assert rc == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"presslens", "lead3", "lead1_each", "lead_round_robin"} <= set(metrics)


def test_eval_errors_are_one_line(tmp_path, capsys):
    from api.cli import main

    assert main(["eval", "summarize", "--data", str(tmp_path / "nope.json"), "--format", "writers",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("presslens: error:") and "no such file" in err
    assert main(["train", "summarizer", "--out", str(tmp_path / "x")]) == 2
