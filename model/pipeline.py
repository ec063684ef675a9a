"""The Analyzer: a batch of articles through cleaning, one encoder pass, stance and summary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .stance import ArticleStance, StanceModel
from .summarizer import ExtractiveSummarizer, SummarySentence
from .text import Article

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def default_stance_path() -> Path:
    return WEIGHTS_DIR / "stance"


def default_summarizer_path() -> Path:
    return WEIGHTS_DIR / "summarizer"


@dataclass
class AnalyzeOptions:
    summary_sentences: int | None = 3
    summary_words: int | None = None
    claims_only: bool = False  # leave the writer's commentary out of the summary


@dataclass
class Analysis:
    article: Article
    stance: ArticleStance
    summary: list[SummarySentence]

    def to_dict(self) -> dict:
        """The JSON shape shared by the CLI and the API."""
        sents = []
        for s, st in zip(self.article.sentences, self.stance.sentences, strict=True):
            sents.append({
                "index": s.index, "text": s.text, "start": s.start, "end": s.end, "is_title": s.is_title,
                "commentary": st.commentary, "probability": round(st.probability, 4),
                "reported": st.reported, "speaker": st.speaker,
            })
        summary = []
        for item in self.summary:
            st = self.stance.sentences[item.index]
            summary.append({**asdict(item), "commentary": st.commentary, "speaker": st.speaker})
        return {
            "id": self.article.id,
            "title": next((s.text for s in self.article.sentences if s.is_title), None),
            "label": self.stance.label,
            "confidence": round(self.stance.confidence, 4),
            "editorial_probability": round(self.stance.editorial_probability, 4),
            "commentary": [i for i, st in enumerate(self.stance.sentences) if st.commentary],
            "summary": summary,
            "sentences": sents,
        }


class Analyzer:
    """Owns the stance model (and its encoder) and the summarizer; thread-compatible for inference."""

    def __init__(self, stance: StanceModel, summarizer: ExtractiveSummarizer | None = None):
        self.stance = stance
        self.summarizer = summarizer or ExtractiveSummarizer()

    @property
    def encoder(self):
        return self.stance.encoder

    @classmethod
    def load(cls, stance_dir: str | os.PathLike | None = None,
             summarizer_dir: str | os.PathLike | None = None, device: str | None = None) -> Analyzer:
        stance = StanceModel.from_pretrained(stance_dir or default_stance_path(), device=device)
        sdir = Path(summarizer_dir) if summarizer_dir else default_summarizer_path()
        summarizer = ExtractiveSummarizer.from_pretrained(sdir) if (sdir / "config.json").is_file() \
            else ExtractiveSummarizer()
        return cls(stance, summarizer)

    def embed(self, articles: Sequence[Article]) -> list[np.ndarray]:
        """One batched encoder pass over every sentence of every article, split back per article."""
        texts = [s.text for a in articles for s in a.sentences]
        emb = self.encoder.encode(texts)
        out, pos = [], 0
        for a in articles:
            out.append(emb[pos : pos + len(a.sentences)])
            pos += len(a.sentences)
        return out

    def analyze(self, articles: Sequence[Article], options: AnalyzeOptions | None = None) -> list[Analysis]:
        options = options or AnalyzeOptions()
        embeddings = self.embed(articles)
        results = []
        for article, emb in zip(articles, embeddings, strict=True):
            probs = self.stance.proba_from_embeddings(emb)
            stance = self.stance.judge_article([s.text for s in article.sentences], probs,
                                               [s.is_title for s in article.sentences])
            allowed = [not st.commentary for st in stance.sentences] if options.claims_only else None
            summary = self.summarizer.summarize(article, emb, max_sentences=options.summary_sentences,
                                                max_words=options.summary_words, allowed=allowed)
            results.append(Analysis(article, stance, summary))
        return results
