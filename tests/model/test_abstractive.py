"""Abstractive backend over a tiny random seq2seq model built here (no download)."""

from __future__ import annotations

import pytest
from presslens.model.encoder import ModelLoadError

WORDS = ("the a of to in and is was said talks russia ukraine kerry lavrov london vote crimea minister "
         "meeting on friday sunday . , \" ' -").split()


@pytest.fixture(scope="module")
def tiny_seq2seq(tmp_path_factory):
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny-seq2seq")
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + letters + [f"##{c}" for c in letters]
    vocab += [w for w in WORDS if w not in vocab]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(d / "vocab.txt"), do_lower_case=True, model_max_length=48)
    config = BartConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_position_embeddings=48, pad_token_id=0, bos_token_id=2,
                        eos_token_id=3, decoder_start_token_id=2, forced_eos_token_id=None)
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(str(d))
    tok.save_pretrained(str(d))
    return d


ARTICLE = "Kerry and Lavrov meet in London\n\n" + " ".join(
    f"Talks in London on Friday were said to be round {i} of the Crimea meeting." for i in range(12))


def test_short_text_is_one_chunk(tiny_seq2seq):
    from presslens.model.abstractive import AbstractiveSummarizer

    s = AbstractiveSummarizer(tiny_seq2seq, max_new_tokens=6, num_beams=1)
    assert s.max_input_tokens == 48  # the smaller of tokenizer and position limits
    out = s.summarize("Kerry met Lavrov in London on Friday.")
    assert out.chunks == 1 and out.rounds == 1 and isinstance(out.text, str)


def test_long_article_is_chunked_within_the_limit(tiny_seq2seq):
    from presslens.model.abstractive import AbstractiveSummarizer
    from presslens.model.text import Article

    s = AbstractiveSummarizer(tiny_seq2seq, max_new_tokens=5, num_beams=1)
    art = Article(ARTICLE)
    chunks = s.chunk([x.text for x in art.body_sentences])
    assert len(chunks) > 3
    assert all(len(s.tokenizer(c)["input_ids"]) <= s.max_input_tokens for c in chunks)
    # every sentence lands in exactly one chunk, in order
    assert " ".join(chunks) == " ".join(x.text for x in art.body_sentences)
    out = s.summarize(art)
    assert out.chunks == len(chunks) and out.rounds == 2
    # each generation is capped, so the reduced summary stays short
    assert len(s.tokenizer(out.text, add_special_tokens=False)["input_ids"]) <= 5 * len(chunks)


def test_analyzer_adds_an_abstract(tiny_seq2seq, tiny_stance_dir):
    from presslens.model.abstractive import AbstractiveSummarizer
    from presslens.model.pipeline import AnalyzeOptions, Analyzer
    from presslens.model.text import Article

    analyzer = Analyzer.load(tiny_stance_dir)
    analyzer.abstractive = AbstractiveSummarizer(tiny_seq2seq, max_new_tokens=4, num_beams=1)
    d = analyzer.analyze([Article(ARTICLE)], AnalyzeOptions(abstractive=True))[0].to_dict()
    assert set(d["abstract"]) == {"text", "chunks", "rounds"} and d["abstract"]["chunks"] > 1
    assert "abstract" not in analyzer.analyze([Article(ARTICLE)])[0].to_dict()


def test_encoder_only_checkpoint_is_refused(tiny_encoder_dir):
    from presslens.model.abstractive import AbstractiveSummarizer

    with pytest.raises(ModelLoadError):
        AbstractiveSummarizer(tiny_encoder_dir)


def test_cli_reports_a_missing_model(tmp_path, capsys):
    from presslens.api.cli import main

    f = tmp_path / "a.txt"
    f.write_text(ARTICLE)
    assert main(["analyze", str(f), "--abstractive", str(tmp_path / "nope")]) == 2
    assert "presslens: error:" in capsys.readouterr().err
