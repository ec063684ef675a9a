"""Labelled-data loading: label mapping per format, validation naming file and row, deduplication."""

from __future__ import annotations

import json

import pytest
from presslens.training.data import (
    DataError,
    LabelledSentences,
    basil_half,
    deduplicate,
    detect_format,
    load_basil,
    load_sentences,
)


def test_checkthat_unquoted_tsv(tmp_path):
    # The official files are written without CSV quoting: a lone quote must not swallow the next rows.
    p = tmp_path / "train_en.tsv"
    p.write_text('sentence_id\tsentence\tlabel\tsolved_conflict\n'
                 '1\t"It can get ugly fast, Kerry warned.\tOBJ\tFalse\n'
                 '2\tThis is a disgraceful decision.\tSUBJ\tTrue\n'
                 '3\tThe meeting lasted six hours.\tOBJ\tFalse\n', encoding="utf-8")
    assert detect_format(str(p)) == "checkthat"
    data = load_sentences(str(p))
    assert data.labels == ["neutral", "editorial", "neutral"]
    assert data.texts[1] == "This is a disgraceful decision."


def test_checkthat_labelled_test_quoted_sentence_first(tmp_path):
    p = tmp_path / "test_en_labeled.tsv"
    p.write_text('sentence\tlabel\tsentence_id\n"He said ""no"" twice."\tOBJ\tx1\nWhat a farce.\tSUBJ\tx2\n',
                 encoding="utf-8")
    data = load_sentences(str(p), "checkthat")
    assert data.texts == ['He said "no" twice.', "What a farce."]
    assert data.y == [0, 1]


def test_newssd_csv_with_newlines_in_field(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text('Sentence,Label,Solved conflict\n"The union agreed.\n",OBJ,False\n"A shameful deal.",SUBJ,True\n',
                 encoding="utf-8")
    assert detect_format(str(p)) == "newssd"
    data = load_sentences(str(p))
    assert data.texts == ["The union agreed.", "A shameful deal."]
    assert data.labels == ["neutral", "editorial"]


def test_babe_opinion_labels_skip_ambiguous(tmp_path):
    p = tmp_path / "final_labels_SG2.csv"
    p.write_text("\ufefftext;news_link;outlet;topic;type;label_bias;label_opinion;biased_words\n"
                 "The bill passed 52-48.;u;o;t;left;Non-biased;Entirely factual;[]\n"
                 "A reckless, cruel bill.;u;o;t;right;Biased;Expresses writer\u2019s opinion;['reckless']\n"
                 "The so-called reform passed.;u;o;t;;Biased;Somewhat factual but also opinionated;[]\n"
                 "Nobody agreed here.;u;o;t;;Biased;No agreement;[]\n", encoding="utf-8")
    assert detect_format(str(p)) == "babe"
    data = load_sentences(str(p))
    assert data.texts == ["The bill passed 52-48.", "A reckless, cruel bill."]
    assert data.labels == ["neutral", "editorial"]


def test_generic_csv_jsonl_parquet(tmp_path):
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("text,label\nRates rose.,neutral\nWhat a mess.,editorial\n", encoding="utf-8")
    assert load_sentences(str(csv_path)).labels == ["neutral", "editorial"]
    jl = tmp_path / "mine.jsonl"
    jl.write_text(json.dumps({"text": "Rates rose.", "label": "neutral"}) + "\n"
                  + json.dumps({"text": "Awful.", "label": "editorial"}) + "\n", encoding="utf-8")
    assert load_sentences(str(jl)).y == [0, 1]
    import pandas as pd

    pq = tmp_path / "mine.parquet"
    pd.DataFrame({"text": ["Rates rose.", "Awful."], "label": ["neutral", "editorial"]}).to_parquet(pq)
    assert load_sentences(str(pq)).y == [0, 1]


def test_unknown_label_names_file_and_row(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("text,label\nRates rose.,neutral\nWhat a mess.,opinion\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.csv: row 2: unknown label 'opinion'"):
        load_sentences(str(p))


def test_empty_text_and_missing_columns(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("text,label\nRates rose.,neutral\n  ,editorial\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: empty text"):
        load_sentences(str(p))
    q = tmp_path / "cols.csv"
    q.write_text("sentence,stance\nRates rose.,neutral\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        load_sentences(str(q))
    with pytest.raises(DataError, match="no such file"):
        load_sentences(str(tmp_path / "nope.csv"), "csv")


def test_deduplicate_against_held_out_ignores_case_and_space():
    train = LabelledSentences(["The  talks failed.", "A farce.", "a farce.", "New one."],
                              ["neutral", "editorial", "editorial", "neutral"], "t")
    held = LabelledSentences(["the talks FAILED."], ["neutral"], "h")
    out, dropped = deduplicate(train, held)
    assert out.texts == ["A farce.", "New one."]
    assert dropped == 2


def test_basil_loader_and_event_halves(tmp_path):
    art = tmp_path / "articles" / "2010"
    art.mkdir(parents=True)
    for n in range(3):
        (art / f"ev1_{n}.json").write_text(json.dumps({
            "title": f"Title {n}", "triplet-uuid": "ev1",
            "body-paragraphs": [["First sentence.", "Second one."], ["Third."]],
        }))
    rows = load_basil(tmp_path)
    assert [r["id"] for r in rows] == ["ev1_0", "ev1_1", "ev1_2"]
    assert rows[0]["text"] == "First sentence. Second one.\nThird."
    assert {r["half"] for r in rows} == {basil_half("ev1")}  # one event never straddles the halves
    assert {basil_half(f"e{i}") for i in range(20)} == {"calib", "heldout"}
    other = "heldout" if basil_half("ev1") == "calib" else "calib"
    assert load_basil(tmp_path, other) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no BASIL article"):
        load_basil(tmp_path / "empty")
    with pytest.raises(DataError, match="expects a directory"):
        load_basil(tmp_path / "missing")
