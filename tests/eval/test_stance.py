"""``presslens eval stance`` on tiny data: sentence and article level, BASIL layout, bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from presslens.api.cli import main
from presslens.eval.stance import classification_metrics


def test_classification_metrics_by_hand():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0, 1, 1, 1]))
    assert m["precision_editorial"] == pytest.approx(2 / 3)
    assert m["recall_neutral"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_eval_sentences_checkthat_full_report(tiny_stance_dir, tmp_path, capsys):
    data = tmp_path / "dev_test_en.tsv"
    data.write_text("sentence_id\tsentence\tlabel\n1\tThe talks lasted six hours.\tOBJ\n"
                    "2\tI think it was a farce.\tSUBJ\n3\tRussia said no.\tOBJ\n", encoding="utf-8")
    train = tmp_path / "train.csv"
    rows = [("The minister met his counterpart on Friday.", "neutral"), ("What a shameful, cowardly decision.", "editorial"),
            ("The vote is scheduled for Sunday.", "neutral"), ("I guess nobody cares about the truth anymore.", "editorial"),
            ("Russia said no.", "neutral")] * 3  # the last one is also in the test data and must be dropped
    with open(train, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("text", "label"), *rows])
    out = tmp_path / "report"
    argv = ["eval", "stance", "--data", str(data), "--format", "checkthat", "--model", str(tiny_stance_dir),
            "--train", str(train), "--out", str(out)]
    rc = main(argv)
    assert rc == 0, capsys.readouterr().err
    text = (out / "metrics.json").read_text()
    metrics = json.loads(text)
    assert metrics["n"] == 3 and metrics["run"]["level"] == "sentence"
    assert set(metrics["systems"]) == {"presslens", "majority", "tfidf_lr", "encoder_lr"}
    assert metrics["run"]["baselines_train_n"] == 4  # 5 distinct train sentences less the one in the test data
    assert metrics["macro_f1"] == metrics["systems"]["presslens"]["macro_f1"]
    assert list(metrics) == sorted(metrics)  # deterministic: sorted keys
    preds = list(csv.DictReader(open(out / "predictions.csv", encoding="utf-8")))
    assert [r["gold"] for r in preds] == ["neutral", "editorial", "neutral"]
    pred = np.array([int(r["presslens_label"] == "editorial") for r in preds])
    assert metrics["macro_f1"] == pytest.approx(classification_metrics(np.array([0, 1, 0]), pred)["macro_f1"], abs=1e-4)
    for name in ("report.md", "confusion_matrix.png", "reliability.png", "run.json"):
        assert (out / name).stat().st_size > 0, name
    run = json.loads((out / "run.json").read_text())
    import hashlib

    assert [d["sha256"] for d in run["data"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in (data, train)]
    # running it again writes the same bytes
    assert main(argv) == 0
    assert (out / "metrics.json").read_text() == text


def test_eval_articles_jsonl_and_basil(tiny_stance_dir, tmp_path):
    jl = tmp_path / "articles.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "text": "Talks ended.\nThe meeting lasted six hours. Kerry said it was useful.", "label": "neutral"},
        {"id": "b", "text": "What a farce.\nI think they failed. No doubt they knew.", "label": "editorial"},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "a"
    assert main(["eval", "stance", "--data", str(jl), "--format", "jsonl", "--level", "article",
                 "--model", str(tiny_stance_dir), "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 2 and m["n_neutral"] == 1 and "macro_f1" in m
    assert m["false_editorial_rate"] in (0.0, 1.0)

    basil = tmp_path / "basil" / "articles" / "2012"
    basil.mkdir(parents=True)
    for i in range(4):
        (basil / f"ev{i}_1.json").write_text(json.dumps({
            "title": "Senate passes bill", "triplet-uuid": f"ev{i}",
            "body-paragraphs": [["The Senate passed the bill on Friday.", "It now goes to the House."]]}))
    out2 = tmp_path / "b"
    assert main(["eval", "stance", "--data", str(tmp_path / "basil"), "--format", "basil", "--level", "article",
                 "--model", str(tiny_stance_dir), "--out", str(out2)]) == 0
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert m2["n"] == 4 and m2["n_neutral"] == 4 and "macro_f1" not in m2  # one gold label only
    preds = list(csv.DictReader(open(out2 / "predictions.csv", encoding="utf-8")))
    assert m2["false_editorial_rate"] == pytest.approx(np.mean([p["predicted"] == "editorial" for p in preds]))


def test_eval_bad_input_exit_2(tiny_stance_dir, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nFine.,neutral\nHm.,maybe\n", encoding="utf-8")
    rc = main(["eval", "stance", "--data", str(bad), "--format", "csv", "--model", str(tiny_stance_dir),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().splitlines()[-1].startswith("presslens: error:") and "row 2" in err
    rc = main(["eval", "stance", "--data", str(bad), "--format", "basil", "--model", str(tiny_stance_dir),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "presslens: error:" in capsys.readouterr().err
