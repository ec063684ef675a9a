"""SumLLM data, held-out exclusion, pool truncation, and `train summarizer --scorer sequence` end to end."""

from __future__ import annotations

import json

import pytest
from presslens.model.text import Article
from presslens.training.data import DataError
from presslens.training.summ_data import article_key, load_summ

ART1 = ("A powerful storm closed every school in the city on Monday, officials said. "
        "The storm brought winds of 90 mph and knocked out power to 40,000 homes. "
        "The mayor said crews would work overnight. Schools are expected to reopen on Wednesday.")
ART2 = ("The home team won the cup final 2-1 on Saturday. Fans celebrated in the streets until late. "
        "The coach praised the defence after the match. It was the club's first title in 20 years.")


def _sumllm(root):
    rows = {
        "gpt4/train.jsonl": [{"article": ART1, "abstract": "A storm shut the city's schools on Monday."}],
        "gpt3/train.jsonl": [{"article": ART1, "abstract": "Storm closes schools; power cut to 40,000 homes."}],
        "chatgpt/val.jsonl": [{"article": ART2, "abstract": "The home team won the cup, its first in 20 years."}],
    }
    for name, rs in rows.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rs))
    return root


def test_sumllm_groups_one_article_written_up_by_several_models(tmp_path):
    docs = load_summ(_sumllm(tmp_path / "s"), "sumllm")
    assert len(docs) == 2
    storm = next(d for d in docs if "storm" in d.articles[0])
    assert storm.references == ["A storm shut the city's schools on Monday.",
                                "Storm closes schools; power cut to 40,000 homes."]
    assert storm.id.startswith("sumllm-") and storm.id != docs[1].id
    one = load_summ(tmp_path / "s" / "chatgpt" / "val.jsonl", "sumllm")  # one file works too
    assert [d.references for d in one] == [["The home team won the cup, its first in 20 years."]]
    assert article_key("  The  HOME team ") == "the home team"


def test_sumllm_directory_without_files_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no SumLLM files"):
        load_summ(tmp_path, "sumllm")


def test_excluded_articles_never_train_and_pool_articles_are_capped(tmp_path):
    from presslens.training.summarizer import cap_sentences, doc_articles, drop_excluded, load_docs

    root = _sumllm(tmp_path / "s")
    sources = load_docs([f"sumllm:{root}"], 0, lambda m: None)
    kept = cap_sentences(drop_excluded(sources, [f"sumllm:{root / 'chatgpt' / 'val.jsonl'}"], lambda m: None), 2)
    assert [len(s) for s in kept] == [1] and "storm" in kept[0][0].articles[0]
    assert [s.text for s in doc_articles(kept[0][0])[0].sentences] == [
        "A powerful storm closed every school in the city on Monday, officials said.",
        "The storm brought winds of 90 mph and knocked out power to 40,000 homes."]
    assert len(Article(kept[0][0].articles[0]).sentences) == 4  # the text itself is kept whole


def test_train_sequence_scorer_end_to_end(tmp_path, tiny_stance_dir):
    from presslens.api.cli import main
    from presslens.model.summarizer import ExtractiveSummarizer
    from presslens.model.text import Article as Art

    root = _sumllm(tmp_path / "s")
    out = tmp_path / "summ"
    argv = ["train", "summarizer", "--scorer", "sequence", "--data", f"sumllm:{root}", "--model", str(tiny_stance_dir),
            "--epochs", "2", "--d-model", "16", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "single.safetensors",
                                                     "training_args.json"]
    summ = ExtractiveSummarizer.from_pretrained(out)
    assert summ.config.training["scorer"] == "sequence"
    assert len(list((tmp_path / "cache").glob("emb-*.npz"))) == 1
    again = tmp_path / "again"
    assert main(argv[:-1] + [str(again)]) == 0  # deterministic: the same bytes from the cached embeddings
    assert (again / "single.safetensors").read_bytes() == (out / "single.safetensors").read_bytes()
    import numpy as np

    a = Art(ART1)
    e = np.random.default_rng(0).normal(size=(len(a.sentences), 32)).astype(np.float32)
    assert len(summ.summarize(a, e, max_sentences=2)) == 2
