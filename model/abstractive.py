"""Abstractive summaries from any ``AutoModelForSeq2SeqLM`` checkpoint (a hub id or a local directory).

For users who have weights (e.g. ``facebook/bart-large-cnn``); nothing is downloaded unless the user's
environment allows it. Articles longer than the model's input limit are split at sentence boundaries into
chunks that fit, each chunk is summarised, and when there is more than one chunk the joined partial
summaries are summarised again (map-reduce, at most ``max_rounds`` times). The number of chunks grows with
the article's length and each costs a bounded amount, so time stays linear in length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .encoder import ModelLoadError, load_tokenizer_and_model
from .text import Article

# Tokenizers report a huge sentinel when they know no limit.
_NO_LIMIT = 1_000_000


@dataclass
class AbstractiveSummary:
    text: str
    chunks: int  # input chunks in the first round
    rounds: int  # map-reduce rounds run

    def to_dict(self) -> dict:
        return {"text": self.text, "chunks": self.chunks, "rounds": self.rounds}


class AbstractiveSummarizer:
    def __init__(self, ref: str | os.PathLike, *, max_input_tokens: int | None = None, max_new_tokens: int = 128,
                 min_new_tokens: int = 0, num_beams: int = 4, max_rounds: int = 2, device: str | None = None):
        from transformers import AutoModelForSeq2SeqLM

        try:
            self.tokenizer, self.model = load_tokenizer_and_model(ref, model_cls=AutoModelForSeq2SeqLM)
        except ValueError as exc:  # e.g. an encoder-only config
            raise ModelLoadError(f"{ref}: not a sequence-to-sequence checkpoint: {exc}") from exc
        if not getattr(self.model.config, "is_encoder_decoder", False):
            raise ModelLoadError(f"{ref}: not an encoder-decoder (seq2seq) model")
        import torch

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.ref = str(ref)
        self.max_input_tokens = max_input_tokens or self._model_limit()
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.num_beams = num_beams
        self.max_rounds = max_rounds

    def _model_limit(self) -> int:
        limits = [int(self.tokenizer.model_max_length)] if self.tokenizer.model_max_length < _NO_LIMIT else []
        cfg = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_source_positions"):
            v = getattr(cfg, name, None)
            if isinstance(v, int) and v > 0:
                limits.append(v)
        return min(limits) if limits else 1024

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def chunk(self, sentences: list[str]) -> list[str]:
        """Consecutive sentences packed into chunks of at most ``max_input_tokens`` tokens each.

        A single sentence longer than the limit becomes its own chunk and is truncated by the tokenizer.
        Each sentence is tokenized once, so chunking is linear in the article's length.
        """
        budget = max(8, self.max_input_tokens - 2)  # room for special tokens
        chunks: list[str] = []
        cur: list[str] = []
        used = 0
        for s in sentences:
            n = len(self.tokenizer(s, add_special_tokens=False)["input_ids"]) + 1
            if cur and used + n > budget:
                chunks.append(" ".join(cur))
                cur, used = [], 0
            cur.append(s)
            used += n
        if cur:
            chunks.append(" ".join(cur))
        return chunks

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        batch = self.tokenizer(texts, truncation=True, max_length=self.max_input_tokens, padding=True,
                               return_tensors="pt").to(self.device)
        batch.pop("token_type_ids", None)
        with torch.inference_mode():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens,
                                      num_beams=self.num_beams, do_sample=False)
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def summarize_sentences(self, sentences: list[str]) -> AbstractiveSummary:
        sentences = [s for s in sentences if s.strip()]
        if not sentences:
            return AbstractiveSummary("", 0, 0)
        chunks = self.chunk(sentences)
        first = len(chunks)
        rounds = 0
        while True:
            parts = self._generate(chunks)
            rounds += 1
            if len(parts) == 1 or rounds >= self.max_rounds:
                return AbstractiveSummary(" ".join(p for p in parts if p), first, rounds)
            chunks = self.chunk(parts)

    def summarize(self, article: Article | str) -> AbstractiveSummary:
        """Summarise an article's body (or raw text, segmented the same way)."""
        art = article if isinstance(article, Article) else Article(article)
        return self.summarize_sentences([s.text for s in art.body_sentences])
