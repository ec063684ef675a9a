"""The shared report layer: deterministic files, bootstrap statistics, predictions CSV, plots, run.json."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from presslens.eval import report
from presslens.eval.metrics import (
    brier_score,
    classification_metrics,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    reliability_bins,
    rouge,
)


def test_write_metrics_is_deterministic_and_canonical(tmp_path):
    metrics = {"b": {"z": np.float32(0.123456789), "a": [1, np.int64(2), (3.0, float("nan"))]},
               "a": -0.00001, "arr": np.array([0.5, 1 / 3])}
    p1 = report.write_metrics(tmp_path / "one", metrics)
    p2 = report.write_metrics(tmp_path / "two", dict(reversed(list(metrics.items()))))
    assert p1.read_bytes() == p2.read_bytes()
    data = json.loads(p1.read_text())
    assert list(data) == ["a", "arr", "b"]  # sorted keys
    assert data["a"] == 0.0 and "-0.0" not in p1.read_text()
    assert data["b"]["z"] == 0.1235
    assert data["b"]["a"] == [1, 2, [3.0, None]]  # NaN becomes null, never the invalid token NaN
    assert data["arr"] == [0.5, 0.3333]
    assert p1.read_text().endswith("}\n")


def test_write_metrics_rejects_unserialisable(tmp_path):
    with pytest.raises(TypeError, match="set"):
        report.write_metrics(tmp_path, {"x": {1, 2}})
    assert not (tmp_path / "metrics.json").exists()  # nothing half-written


def test_bootstrap_ci_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(1)
    scores = rng.normal(40, 5, size=200)
    a = report.bootstrap_ci(np.mean, scores, seed=7)
    b = report.bootstrap_ci(np.mean, scores, seed=7)
    assert a == b
    assert a.low < a.value < a.high
    # Standard error of a mean of 200 draws with sd 5 is ~0.35: the 95% interval is about +-0.7 wide.
    assert 0.4 < (a.high - a.low) / 2 < 1.0
    c = report.bootstrap_ci(np.mean, scores, seed=8)
    assert c != a  # the seed matters


def test_bootstrap_ci_over_paired_columns_for_macro_f1():
    y = ["neutral"] * 60 + ["editorial"] * 40
    pred = ["neutral"] * 50 + ["editorial"] * 10 + ["editorial"] * 30 + ["neutral"] * 10
    ci = report.bootstrap_ci(macro_f1, y, pred, n_resamples=300)
    assert ci.value == pytest.approx(macro_f1(y, pred))
    assert ci.low <= ci.value <= ci.high and ci.high - ci.low > 0.02
    with pytest.raises(ValueError, match="differ in length"):
        report.bootstrap_ci(macro_f1, y, pred[:-1])


def test_paired_bootstrap_detects_a_real_gap_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.normal(30, 6, size=150)
    better = base + 2 + rng.normal(0, 1, size=150)
    res = report.paired_bootstrap(np.mean, (better,), (base,), seed=3)
    assert res.delta == pytest.approx(float(np.mean(better - base)))
    assert res.low > 0 and res.p_value < 0.01
    assert "p < 0.001 (significant at 5%)" in report.paired_sentence({**res.to_dict(), "a": "x", "b": "y",
                                                                      "metric": "m", "p_value": 0.0})
    same = report.paired_bootstrap(np.mean, (base,), (base.copy(),))
    assert same.delta == 0 and same.p_value == 1.0
    noise = base + rng.normal(0, 3, size=150)
    weak = report.paired_bootstrap(np.mean, (noise,), (base,))
    assert weak.low < 0 < weak.high and weak.p_value > 0.05
    with pytest.raises(ValueError, match="different item counts"):
        report.paired_bootstrap(np.mean, (base,), (base[:10],))


def test_classification_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.metrics import confusion_matrix as sk_cm

    rng = np.random.default_rng(2)
    labels = ["neutral", "editorial"]
    y = list(rng.choice(labels, 120))
    p = list(rng.choice(labels, 120))
    m = classification_metrics(y, p)
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", labels=labels))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["confusion"] == sk_cm(y, p, labels=labels).tolist()
    assert m["per_class"]["editorial"]["support"] == y.count("editorial")
    # A class never predicted scores F1 0, not an error.
    assert macro_f1(["neutral", "editorial"], ["neutral", "neutral"]) == pytest.approx((2 / 3) / 2)
    with pytest.raises(ValueError, match="SUBJ"):
        confusion_matrix(["SUBJ"], ["neutral"])


def test_calibration_metrics():
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    assert expected_calibration_error(y, np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert brier_score(y, np.full(4, 0.5)) == pytest.approx(0.25)
    bins = reliability_bins(np.array([0, 1, 1]), np.array([0.05, 0.95, 1.0]), n_bins=10)
    assert [b["bin"] for b in bins] == [0, 9] and bins[1]["count"] == 2


def test_rouge_uses_stemming_lsum_and_best_reference():
    summary = ["The minister resigned on Monday.", "Talks continue in London."]
    perfect = rouge(summary, ["The minister resigned on Monday. Talks continue in London."])
    assert perfect == {"rouge1": pytest.approx(100.0), "rouge2": pytest.approx(100.0),
                       "rougeLsum": pytest.approx(100.0)}
    stemmed = rouge(["Ministers resigning"], ["minister resigned"])
    assert stemmed["rouge1"] == pytest.approx(100.0)
    best = rouge(summary, ["Completely unrelated words here.", summary[0] + " " + summary[1]])
    assert best["rouge1"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="reference"):
        rouge(summary, ["", "  "])


def test_predictions_csv_round_trips(tmp_path):
    rows = [{"id": "a", "text": 'He said, "no"', "gold": "neutral", "prob": 0.123456, "idx": [0, 2]},
            {"id": "b", "text": "line\nbreak", "gold": "editorial", "prob": float("nan"), "idx": []}]
    path = report.write_predictions_csv(tmp_path / "predictions.csv", rows)
    with open(path, newline="", encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    assert back[0] == {"id": "a", "text": 'He said, "no"', "gold": "neutral", "prob": "0.1235", "idx": "0 2"}
    assert back[1]["text"] == "line\nbreak" and back[1]["prob"] == ""
    again = report.write_predictions_csv(tmp_path / "again.csv", rows)
    assert again.read_bytes() == path.read_bytes()


def test_markdown_table_and_ci_format():
    t = report.markdown_table(["system", "macro-F1"], [["a|b", report.fmt_ci(0.71234, 0.7, 0.73)]])
    assert t.splitlines()[1] == "|:---|---:|"
    assert "a\\|b" in t and "0.712 [0.700, 0.730]" in t
    with pytest.raises(ValueError, match="cells"):
        report.markdown_table(["a", "b"], [[1]])


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plots_write_readable_pngs(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    probs = {"presslens": np.clip(y * 0.6 + rng.normal(0.2, 0.2, 200), 0, 1), "tfidf_lr": rng.random(200)}
    paths = [
        report.plot_confusion_matrix([[50, 10], [5, 35]], ["neutral", "editorial"], tmp_path / "cm.png"),
        report.plot_reliability_diagram(y, probs, tmp_path / "rel.png"),
        report.plot_rouge_bars({"presslens": {"rouge1": (40.0, 38.0, 42.0), "rouge2": (15.0, 14.0, 16.0),
                                              "rougeLsum": (35.0, 33.0, 37.0)},
                                "lead3": {"rouge1": 38.0, "rouge2": 14.0, "rougeLsum": 34.0}},
                               tmp_path / "rouge.png"),
        report.plot_throughput([1, 8, 32], {"presslens": [5, 20, 22], "naive": [1, 1.2, 1.1]}, tmp_path / "tp.png",
                               latency_p95_ms={"presslens": [200, 500, 1500], "naive": [900, 7000, 28000]},
                               floor=60.0),
    ]
    for p in paths:
        w, h = _png_size(p)
        assert w >= 400 and h >= 300, p
    # Same inputs, same bytes: reports can be diffed between runs.
    again = report.plot_confusion_matrix([[50, 10], [5, 35]], ["neutral", "editorial"], tmp_path / "cm2.png")
    assert again.read_bytes() == paths[0].read_bytes()


def test_plot_labels_and_legends_are_set(tmp_path, monkeypatch):
    """The plots carry titles, axis labels and legends (checked on the matplotlib figure itself)."""
    seen = []
    from presslens.eval import plots

    real_save = plots._save

    def capture(fig, path):
        seen.append([(ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), ax.get_legend() is not None)
                     for ax in fig.axes])
        return real_save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    report.plot_throughput([1, 8, 32], {"presslens": [5, 20, 22], "naive": [1, 1.2, 1.1]}, tmp_path / "tp.png")
    report.plot_reliability_diagram(np.array([0, 1, 1, 0]), {"m": np.array([0.1, 0.8, 0.7, 0.4])},
                                    tmp_path / "rel.png")
    report.plot_rouge_bars({"s": {"rouge1": 1.0, "rouge2": 2.0, "rougeLsum": 3.0}}, tmp_path / "r.png")
    (tp,), (rel_top, rel_hist), (bars,) = seen
    assert tp == ("Throughput vs concurrency", "concurrent clients", "articles / s", True)
    assert rel_top[0] and rel_top[2].startswith("observed share") and rel_top[3]
    assert rel_hist[1] == "predicted P(editorial)"
    assert bars[0].startswith("ROUGE") and bars[2] == "F1 x 100" and bars[3]


def test_run_info_records_reproducibility_facts(tmp_path):
    import time

    data = tmp_path / "data.tsv"
    data.write_bytes(b"sentence_id\tsentence\tlabel\n1\tHi.\tOBJ\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    started = time.time() - 2.0
    path = report.write_run_info(tmp_path / "out", [data, folder, "org/some-hub-dataset"], seed=13,
                                 started=started, argv=["eval", "stance"], extra={"model": "default"})
    info = json.loads(path.read_text())
    import hashlib

    assert info["data"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert info["data"][1]["files"] == 1 and len(info["data"][1]["sha256"]) == 64
    assert info["data"][2]["sha256"] is None
    assert info["seed"] == 13 and info["duration_s"] >= 2.0 and info["model"] == "default"
    assert info["argv"] == ["eval", "stance"]
    assert info["packages"]["numpy"] == np.__version__
    assert info["machine"]["cpu_count"] >= 1 and info["machine"]["python"]
    assert len(info["git"]["commit"] or "x" * 40) == 40


def test_compare_classifiers_picks_strongest_baseline_and_renders(tmp_path):
    rng = np.random.default_rng(5)
    y = list(rng.choice(["neutral", "editorial"], 150, p=[0.65, 0.35]))
    flip = lambda rate: [t if rng.random() > rate else ("neutral" if t == "editorial" else "editorial") for t in y]  # noqa: E731
    systems = {
        "presslens": {"labels": flip(0.1), "proba": rng.random(150)},
        "majority": {"labels": ["neutral"] * 150, "proba": np.full(150, 0.35)},
        "tfidf_lr": {"labels": flip(0.3)},
    }
    res = report.compare_classifiers(y, systems, "presslens", n_resamples=200)
    assert res["strongest_baseline"] == "tfidf_lr"
    assert res["paired"]["a"] == "presslens" and res["paired"]["delta"] > 0
    assert "ece" in res["systems"]["majority"] and "ece" not in res["systems"]["tfidf_lr"]
    lo, hi = res["systems"]["presslens"]["macro_f1_ci"]
    assert lo <= res["systems"]["presslens"]["macro_f1"] <= hi
    md = report.classifier_table_md(res)
    assert md.splitlines()[2].startswith("| **presslens** |")
    assert "Paired bootstrap (200 resamples), presslens minus tfidf_lr on macro_f1" in md
    p1 = report.write_metrics(tmp_path / "a", res)
    p2 = report.write_metrics(tmp_path / "b", report.compare_classifiers(y, systems, "presslens", n_resamples=200))
    assert p1.read_bytes() == p2.read_bytes()
    with pytest.raises(ValueError, match="primary"):
        report.compare_classifiers(y, systems, "nope")
    forced = report.compare_classifiers(y, systems, "presslens", baselines=["majority"], n_resamples=50)
    assert forced["strongest_baseline"] == "majority" and "tfidf_lr" in forced["systems"]


def test_compare_summarizers_excludes_the_ceiling(tmp_path):
    rng = np.random.default_rng(6)

    def rows(mu):
        return [{"rouge1": mu + rng.normal(0, 2), "rouge2": mu / 3, "rougeLsum": mu - 3} for _ in range(40)]

    scores = {"presslens": rows(40), "lead3": rows(38), "textrank": rows(30), "oracle": rows(55)}
    res = report.compare_summarizers(scores, "presslens", n_resamples=200)
    assert res["strongest_baseline"] == "lead3" and res["ceilings"] == ["oracle"]
    assert set(res["paired"]) == {"rouge1", "rouge2", "rougeLsum"}
    assert res["paired"]["rouge2"]["delta"] == pytest.approx(2 / 3)
    md = report.summarizer_table_md(res)
    assert md.splitlines()[-1].startswith("Paired bootstrap") or "oracle (ceiling)" in md
    assert [ln.split("|")[1].strip() for ln in md.splitlines()[2:6]] == [
        "**presslens**", "lead3", "textrank", "oracle (ceiling)"]
    report.plot_rouge_bars(report.rouge_plot_input(res), tmp_path / "rouge.png")
    only = report.compare_summarizers(scores, "presslens", baselines=["lead3", "oracle"], n_resamples=50)
    # textrank scores higher but is not eligible; the oracle is a ceiling and never chosen.
    assert only["strongest_baseline"] == "lead3" and "textrank" in only["systems"]
    with pytest.raises(ValueError, match="not among the systems"):
        report.compare_summarizers(scores, "presslens", baselines=["nope"])
    with pytest.raises(ValueError, match="different article counts"):
        report.compare_summarizers({"presslens": rows(1), "lead3": rows(1)[:0]}, "presslens")


def test_write_stance_report_writes_every_file_deterministically(tmp_path):
    rng = np.random.default_rng(9)
    gold = list(rng.choice(["neutral", "editorial"], 80, p=[0.7, 0.3]))
    texts = [f"sentence {i}" for i in range(80)]
    p = np.clip(np.array([0.7 if g == "editorial" else 0.3 for g in gold]) + rng.normal(0, 0.2, 80), 0, 1)
    systems = {"presslens": {"labels": ["editorial" if x >= 0.5 else "neutral" for x in p], "proba": p},
               "majority": {"labels": ["neutral"] * 80, "proba": np.full(80, 0.3)},
               "tfidf_lr": {"labels": list(rng.choice(["neutral", "editorial"], 80)), "proba": None}}
    files = []
    for run in ("a", "b"):
        m = report.write_stance_report(tmp_path / run, texts=texts, gold=gold, systems=systems,
                                       extra={"data": "dev_test_en.tsv"}, n_resamples=200)
        files.append({f.name: f.read_bytes() for f in sorted((tmp_path / run).iterdir())})
    assert files[0] == files[1]  # every file, PNGs included, is byte-identical across runs
    assert set(files[0]) == {"metrics.json", "report.md", "predictions.csv", "confusion_matrix.png",
                             "reliability.png"}
    assert m["run"] == {"data": "dev_test_en.tsv"} and m["strongest_baseline"] in ("majority", "tfidf_lr")
    with open(tmp_path / "a" / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "text", "gold", "presslens_label", "presslens_p_editorial", "majority_label",
                             "majority_p_editorial", "tfidf_lr_label"]
    assert len(rows) == 80 and rows[0]["gold"] == gold[0]
    md = (tmp_path / "a" / "report.md").read_text()
    assert "| **presslens** |" in md and "reliability.png" in md and "| data | dev_test_en.tsv |" in md


def test_write_summary_report(tmp_path):
    scores = {s: [{"rouge1": 30.0 + k + i, "rouge2": 10.0 + i, "rougeLsum": 25.0 + k} for i in range(6)]
              for k, s in enumerate(["lead3", "presslens", "textrank", "oracle"])}
    summaries = {s: [[f"{s} sentence one.", "two."] for _ in range(6)] for s in scores}
    m = report.write_summary_report(tmp_path, doc_ids=[f"d{i}" for i in range(6)], scores=scores,
                                    summaries=summaries, n_resamples=100)
    assert m["strongest_baseline"] == "textrank" and m["systems"]["oracle"]["rouge1"]["value"] == 35.5
    with open(tmp_path / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and rows[0]["summary"] == "lead3 sentence one.\ntwo."
    assert (tmp_path / "rouge.png").exists() and "oracle (ceiling)" in (tmp_path / "report.md").read_text()
