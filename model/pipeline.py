"""The Analyzer: a batch of articles through cleaning, one encoder pass, stance and summary."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .abstractive import AbstractiveSummarizer, AbstractiveSummary
from .claims import writer_aside
from .coverage import Coverage, build_coverage
from .encoder import ModelLoadError
from .profiles import (  # noqa: F401 - CHECKPOINT_SUMMARIZER and the default paths re-exported
    CHECKPOINT_SUMMARIZER,
    default_stance_path,
    default_summarizer_path,
    resolve_stance,
    summarizer_candidates,
)
from .stance import ArticleStance, StanceModel
from .summarizer import ExtractiveSummarizer, SummarySentence
from .text import Article


@dataclass
class SummarizerChoice:
    summarizer: ExtractiveSummarizer
    path: Path | None  # None: the built-in prior
    reason: str


def choose_summarizer(keys: str | dict, stance_dir: str | os.PathLike | None = None,
                      summarizer_dir: str | os.PathLike | None = None) -> SummarizerChoice:
    """The summarizer to serve beside a stance model with these fit ``keys`` (``StanceModel.fit_keys``: encoder
    checksum, head checksum, commentary decision; a bare encoder checksum where no stance head is served).

    A trained scorer's features (centrality, similarity to the headline and the lead) are cosines between
    that encoder's embeddings, its ``commentary`` feature is that head's output, and its standardisation and
    weights were fitted to their distribution, so it is served only beside the encoder, head and decision
    it was fitted to (``ExtractiveSummarizer.misfit``). ``summarizer_dir`` (chosen by the user) must fit
    or the load fails. Otherwise the first that fits of: the scorer inside the stance checkpoint
    (``<stance>/summarizer``), the shipped scorer; failing both, the built-in prior, whose hand-set weights
    were fitted to no encoder. The CLI and the service (at start and on every reload) choose through here,
    so they summarise alike.
    """
    keys = {"encoder_checksum": keys} if isinstance(keys, str) else keys
    candidates = summarizer_candidates(stance_dir, summarizer_dir)  # the one resolver's list, in its order
    if summarizer_dir:
        chosen = ExtractiveSummarizer.from_pretrained(summarizer_dir)
        why = chosen.misfit(keys)
        if why:
            raise ModelLoadError(f"summarizer {summarizer_dir} {why}: retrain it beside this model "
                                 "(presslens train summarizer --model STANCE_DIR) or leave the summarizer unset")
        return SummarizerChoice(chosen, Path(summarizer_dir), "given")
    skipped = []
    for _role, path in candidates:
        chosen = ExtractiveSummarizer.from_pretrained(path)
        why = chosen.misfit(keys)
        if why is None:
            return SummarizerChoice(chosen, path, "fitted to this encoder, head and commentary decision")
        skipped.append(f"{path} ({why})")
    reason = f"built-in prior: {'; '.join(skipped)}" if skipped else "built-in prior"
    return SummarizerChoice(ExtractiveSummarizer(), None, reason)


def split_per_article(rows: Sequence, articles: Sequence[Article]) -> list:
    """``rows`` (one per sentence of every article, in order: embeddings, probabilities) cut back per article."""
    out, pos = [], 0
    for a in articles:
        out.append(rows[pos : pos + len(a.sentences)])
        pos += len(a.sentences)
    return out


class StageTimer:
    """Seconds spent in each of the Analyzer's stages, summed over calls: ``analyze(..., timer=StageTimer())``.

    Stages: ``tokenize``, ``encoder``, ``head`` (stance), ``summarizer``, ``abstractive``; a caller may time its
    own steps around them the same way (``with timer("json_parse"): ...``)."""

    def __init__(self, stages: Sequence[str] = ()):
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


class _NoTimer:
    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        yield


NO_TIMER = _NoTimer()


#: the summary's sentence budget when the user gives no budget at all
DEFAULT_SUMMARY_SENTENCES = 3


def summary_budget(sentences: int | None, words: int | None) -> tuple[int | None, int | None]:
    """(sentences, words) as a user means them: a word budget alone is a word budget (no sentence cap);
    with neither, ``DEFAULT_SUMMARY_SENTENCES`` sentences. The CLI and the batch command resolve through here;
    the API's schema applies the same rule to a request that leaves ``summary_sentences`` out."""
    if sentences is None and words is None:
        return DEFAULT_SUMMARY_SENTENCES, None
    return sentences, words


@dataclass
class AnalyzeOptions:
    summary_sentences: int | None = 3
    summary_words: int | None = None
    claims_only: bool = False  # leave the writer's commentary (and asides in the writer's voice) out
    abstractive: bool = False  # also write an abstractive summary (needs Analyzer.abstractive)


@dataclass
class Analysis:
    article: Article
    stance: ArticleStance
    summary: list[SummarySentence]
    abstract: AbstractiveSummary | None = None

    def to_dict(self) -> dict:
        """The JSON shape shared by the CLI and the API."""
        sents = []
        for s, st in zip(self.article.sentences, self.stance.sentences, strict=True):
            sents.append({
                "index": s.index, "text": s.text, "start": s.start, "end": s.end, "is_title": s.is_title,
                "paragraph": s.paragraph,
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
            **({"abstract": self.abstract.to_dict()} if self.abstract is not None else {}),
            "sentences": sents,
        }


class Analyzer:
    """Owns the stance model (and its encoder) and the summarizer; thread-compatible for inference."""

    def __init__(self, stance: StanceModel, summarizer: ExtractiveSummarizer | None = None,
                 abstractive: AbstractiveSummarizer | None = None, summarizer_path: Path | None = None,
                 summarizer_reason: str = ""):
        self.stance = stance
        self.summarizer = summarizer or ExtractiveSummarizer()
        if self.summarizer.commentary is None:  # the scorer's `commentary` feature reads this stance model
            self.summarizer.commentary = stance.proba_from_embeddings
        if not self.summarizer.trained:  # the prior's support feature: this encoder's calibrated paraphrase cosine
            self.summarizer.config.support_threshold = stance.config.support_threshold
        self.abstractive = abstractive
        #: where the summarizer was loaded from (None: built in or given in memory), and why it was chosen
        self.summarizer_path = summarizer_path
        self.summarizer_reason = summarizer_reason

    @property
    def encoder(self):
        return self.stance.encoder

    @classmethod
    def load(cls, stance_dir: str | os.PathLike | None = None,
             summarizer_dir: str | os.PathLike | None = None, device: str | None = None,
             abstractive: str | os.PathLike | None = None, runtime: str | None = None,
             precision: str | None = None, threads: int | None = None) -> Analyzer:
        """``runtime``: the encoder's inference runtime (``model.runtime.RUNTIMES``); ``precision``:
        ``model.runtime.PRECISIONS``, climbed on an exported runtime (``model.runtime.precision``). Left out,
        both are the settings' (``PRESSLENS_RUNTIME``, ``PRESSLENS_PRECISION``: ``auto``), the ones the
        service serves with, so the CLI, the Python API, batch and eval give the server's numbers.
        ``threads``: the exported runtime's threads (default: ``PRESSLENS_THREADS`` or the CPUs available)."""
        return cls.assemble(resolve_stance(stance_dir), summarizer_dir, device=device,
                            abstractive=abstractive, runtime=runtime, precision=precision, threads=threads)

    @classmethod
    def assemble(cls, stance_dir: str | os.PathLike, summarizer_dir: str | os.PathLike | None = None, *,
                 encoder=None, device: str | None = None,
                 abstractive: str | os.PathLike | None = None, runtime: str | None = None,
                 precision: str | None = None, threads: int | None = None) -> Analyzer:
        """The stance checkpoint with the summarizer that fits its encoder (``choose_summarizer``).

        ``encoder``: an already loaded encoder to reuse if it is the one the checkpoint needs (a reload).
        ``runtime``, ``precision``: as in ``load``; left out, the settings'.
        """
        from . import settings
        from .runtime.loader import load_stance

        runtime = runtime or settings.current().runtime
        precision = precision or settings.current().precision

        stance = load_stance(stance_dir, runtime=runtime, precision=precision, threads=threads, device=device,
                             offered=encoder)
        choice = choose_summarizer(stance.fit_keys(), stance_dir, summarizer_dir)
        abstract = AbstractiveSummarizer(abstractive, device=device) if abstractive else None
        return cls(stance, choice.summarizer, abstract, summarizer_path=choice.path, summarizer_reason=choice.reason)

    def embed(self, articles: Sequence[Article], timer: StageTimer | None = None) -> list[np.ndarray]:
        """One batched encoder pass over every sentence of every article, split back per article."""
        timer = timer or NO_TIMER
        texts = [s.text for a in articles for s in a.sentences]
        enc = self.encoder
        if hasattr(enc, "token_ids") and hasattr(enc, "encode_ids"):
            with timer("tokenize"):
                ids = enc.token_ids(texts)
            with timer("encoder"):
                emb = enc.encode_ids(ids)
        else:  # an encoder that only embeds texts (a test's fake, a peer's)
            with timer("encoder"):
                emb = enc.encode(texts)
        return split_per_article(emb, articles)

    def analyze(self, articles: Sequence[Article], options: AnalyzeOptions | None = None,
                timer: StageTimer | None = None) -> list[Analysis]:
        """The analyses of ``articles``; ``timer`` (a ``StageTimer``) sums the seconds of each stage."""
        return self._analyze_embedded(articles, self.embed(articles, timer), options or AnalyzeOptions(), timer)

    def judge(self, article: Article, emb: np.ndarray) -> ArticleStance:
        """The stance of one article from its sentence embeddings (``StanceModel.judge``)."""
        return self.stance.judge(article, emb)

    @staticmethod
    def claim_mask(article: Article, stance: ArticleStance) -> list[bool]:
        """Sentences that may stand as claims: not commentary, and not an aside in the writer's voice.

        The aside rule does not depend on the stance model, so claims-only summaries keep the writer's
        asides out even where the classifier misses them.
        """
        return [not st.commentary and not writer_aside(s.text)
                for s, st in zip(article.sentences, stance.sentences, strict=True)]

    def summarize(self, article: Article, emb: np.ndarray, stance: ArticleStance,
                  options: AnalyzeOptions) -> list[SummarySentence]:
        """The extractive summary of one article within the options' budget (claims only if asked)."""
        allowed = self.claim_mask(article, stance) if options.claims_only else None
        return self.summarizer.summarize(article, emb, max_sentences=options.summary_sentences,
                                         max_words=options.summary_words, allowed=allowed)

    def _analyze_embedded(self, articles: Sequence[Article], embeddings: Sequence[np.ndarray],
                          options: AnalyzeOptions, timer: StageTimer | None = None) -> list[Analysis]:
        timer = timer or NO_TIMER
        results = []
        for article, emb in zip(articles, embeddings, strict=True):
            with timer("head"):
                stance = self.judge(article, emb)
            with timer("summarizer"):
                summary = self.summarize(article, emb, stance, options)
            abstract = None
            if options.abstractive:
                if self.abstractive is None:
                    raise ModelLoadError("an abstractive summary needs a seq2seq checkpoint (--abstractive MODEL)")
                with timer("abstractive"):
                    abstract = self.abstractive.summarize(article)
            results.append(Analysis(article, stance, summary, abstract))
        return results

    def coverage(self, articles: Sequence[Article], options: AnalyzeOptions | None = None) -> CoverageResult:
        """Several articles on one event: per-article analyses plus the cross-outlet coverage view."""
        options = options or AnalyzeOptions()
        seen: dict[str, int] = {}
        for a in articles:  # claims are keyed by article id, so ids must differ
            seen[a.id] = seen.get(a.id, 0) + 1
            if seen[a.id] > 1:
                a.id = f"{a.id}#{seen[a.id]}"
        embeddings = self.embed(articles)
        analyses = self._analyze_embedded(articles, embeddings, options)
        masks = [self.claim_mask(a.article, a.stance) for a in analyses]
        cov = build_coverage(
            articles, embeddings, self.summarizer, max_sentences=options.summary_sentences,
            max_words=options.summary_words,
            speakers=[[st.speaker for st in a.stance.sentences] for a in analyses],
            commentary=[[st.commentary for st in a.stance.sentences] for a in analyses],
            excluded=[[not ok for ok in m] for m in masks], claims_only=options.claims_only,
            threshold=self.stance.config.link_threshold,
        )
        return CoverageResult(analyses, cov)


@dataclass
class CoverageResult:
    analyses: list[Analysis]
    coverage: Coverage

    def to_dict(self) -> dict:
        """The JSON shape of ``presslens coverage`` and POST /v1/coverage: each article's full analysis (the
        object ``presslens analyze`` prints, sentences included) beside the cross-outlet view, so one call
        gives a client everything it shows."""
        return {"articles": [a.to_dict() for a in self.analyses], **self.coverage.to_dict()}
