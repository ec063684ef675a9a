"""The Python API behind ``presslens.load``: an analyzer for scripts and notebooks.

The same models, loading path and result objects as ``presslens analyze`` and ``presslens coverage``: a
profile or checkpoint goes through the one resolver (``model/profiles.py``), inputs through the one intake
(``model/intake.py``), and ``Analysis.to_dict()`` is the object the CLI prints. Nothing heavy is imported
until a model is loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: articles per encoder pass when the caller gives no batch size (the service's default batch)
DEFAULT_BATCH_SIZE = 32
#: sentences per encoder pass in ``classify``
DEFAULT_SENTENCE_BATCH = 256
_DICT_KEYS = frozenset({"text", "html", "title", "id"})


@dataclass
class SentenceLabel:
    """One loose sentence classified on its own (no article context): ``probability`` is P(commentary),
    ``label`` is ``editorial`` when it reaches the model's sentence threshold, else ``neutral``."""

    text: str
    label: str
    probability: float

    @property
    def scores(self) -> dict[str, float]:
        """``{"neutral": 1 - p, "editorial": p}``, the row ``StanceModel.predict_proba`` gives."""
        return {"neutral": 1.0 - self.probability, "editorial": self.probability}

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "probability": round(self.probability, 4)}


class Analyzer:
    """A loaded stance model and summarizer. Made by :func:`load`; ``engine`` is the
    ``presslens.model.pipeline.Analyzer`` that the CLI and the service run."""

    def __init__(self, engine, model: str, runtime: str | None, precision: str | None):
        self.engine = engine
        self.model = model
        self.runtime = engine.encoder.runtime
        self.precision = getattr(engine.encoder, "precision", "fp32")
        self._requested = {"runtime": runtime, "precision": precision}

    def __repr__(self) -> str:
        return f"presslens.Analyzer(model={self.model!r}, runtime={self.runtime!r}, precision={self.precision!r})"

    @property
    def stance(self):
        """The ``StanceModel`` (sentence probabilities, the article rule, the encoder)."""
        return self.engine.stance

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.stance.config.id2label[i] for i in sorted(self.stance.config.id2label))

    def analyze(self, texts_or_articles, sentences: int | None = None, words: int | None = None,
                claims_only: bool = False, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool | None = None):
        """Label each article neutral or editorial, mark its commentary sentences and summarise it.

        ``texts_or_articles``: a string, a ``presslens.model.text.Article``, a dict with ``text`` (or ``html``)
        and optional ``title`` and ``id``, or a list of these. A single item gives a single
        ``presslens.model.pipeline.Analysis``, a list gives a list. ``sentences`` / ``words``: the summary
        budget, as ``--sentences`` / ``--words`` (with neither, 3 sentences; ``words`` alone has no sentence
        cap). ``claims_only``: keep the writer's commentary out of the summary. Articles go through the
        encoder ``batch_size`` at a time; ``progress`` shows a tqdm bar (default: when stderr is a terminal).
        ``result.to_dict()`` is the object ``presslens analyze`` prints as JSON.
        """
        from presslens.model.pipeline import AnalyzeOptions

        single, articles = _articles(texts_or_articles)
        sentences, words = _budget(sentences, words)
        size = _positive("batch_size", batch_size)
        opts = AnalyzeOptions(summary_sentences=sentences, summary_words=words, claims_only=bool(claims_only))
        results = []
        with _bar(len(articles), "articles", progress) as bar:
            for start in range(0, len(articles), size):
                chunk = articles[start:start + size]
                results.extend(self.engine.analyze(chunk, opts))
                bar.update(len(chunk))
        return results[0] if single else results

    def coverage(self, texts_or_articles, sentences: int | None = None, words: int | None = None,
                 claims_only: bool = False):
        """Several articles on one event (two or more, the inputs ``analyze`` takes): each article's analysis,
        the event summary, the claims several articles share and each one's own claims, as a
        ``presslens.model.pipeline.CoverageResult`` whose ``to_dict()`` is ``presslens coverage``'s JSON."""
        from presslens.model.intake import IntakeError
        from presslens.model.pipeline import AnalyzeOptions

        single, articles = _articles(texts_or_articles)
        if single or len(articles) < 2:
            raise IntakeError("coverage needs at least two articles on the same event", "empty")
        for a in articles:
            if not a.body_sentences:
                raise IntakeError(f"{a.id}: no sentences left after cleaning (only a headline)", "no_text")
        sentences, words = _budget(sentences, words)
        opts = AnalyzeOptions(summary_sentences=sentences, summary_words=words, claims_only=bool(claims_only))
        return self.engine.coverage(articles, opts)

    def predict_proba(self, sentences: Sequence[str], batch_size: int = DEFAULT_SENTENCE_BATCH,
                      progress: bool | None = None):
        """(n, 2) array of [P(neutral), P(editorial)] per loose sentence, as ``StanceModel.predict_proba``."""
        import numpy as np

        texts = _sentences(sentences)[1]
        size = _positive("batch_size", batch_size)
        parts = []
        with _bar(len(texts), "sentences", progress) as bar:
            for start in range(0, len(texts), size):
                chunk = texts[start:start + size]
                parts.append(self.stance.predict_proba(chunk))
                bar.update(len(chunk))
        return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)

    def classify(self, sentences, batch_size: int = DEFAULT_SENTENCE_BATCH, progress: bool | None = None):
        """Each loose sentence's P(commentary) and label (``SentenceLabel``), judged alone: no article rule,
        no reported-speech rule. A string gives one result, a list gives a list."""
        single, texts = _sentences(sentences)
        proba = self.predict_proba(texts, batch_size=batch_size, progress=progress)[:, 1]
        threshold = float(self.stance.config.threshold)
        names = self.stance.config.id2label
        out = [SentenceLabel(t, names[int(p >= threshold)], float(p)) for t, p in zip(texts, proba, strict=True)]
        return out[0] if single else out


def load(model: str | os.PathLike = "default", *, summarizer: str | os.PathLike | None = None,
         precision: str | None = None, runtime: str | None = None) -> Analyzer:
    """An analyzer for a profile (``"default"``, ``"accurate"``) or a stance checkpoint directory.

    Loads as ``presslens analyze --model MODEL [--summarizer DIR]`` does (the one resolver, the summarizer
    that fits the encoder), so results equal the CLI's. ``runtime`` (``torch``, ``onnx``, ``auto``) and
    ``precision`` (``fp32``, ``bf16``, ``int8``, ``auto``): left out, the settings' (``PRESSLENS_RUNTIME``,
    ``PRESSLENS_PRECISION``, both ``auto``), as ``presslens analyze`` and ``presslens serve`` have them, so
    the three give the same numbers. A bad name or a checkpoint
    that will not load raises ``ModelLoadError`` with one line naming the problem.
    """
    from presslens.model.pipeline import Analyzer as Engine
    from presslens.model.settings import PRECISIONS, RUNTIMES

    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a profile name or a checkpoint directory, got {type(model).__name__}")
    kwargs = {}
    if runtime is not None:
        kwargs["runtime"] = _choice("runtime", runtime, RUNTIMES)
    if precision is not None:
        kwargs["precision"] = _choice("precision", precision, PRECISIONS)
    engine = Engine.load(model, summarizer, **kwargs)  # what `presslens analyze --model MODEL` runs
    return Analyzer(engine, str(model), runtime, precision)


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    chosen = str(value).strip().lower()
    if chosen not in allowed:
        raise ValueError(f"bad {name} {value!r}: choose one of {', '.join(allowed)}")
    return chosen


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def _budget(sentences, words) -> tuple[int | None, int | None]:
    from presslens.model.pipeline import summary_budget

    return summary_budget(None if sentences is None else _positive("sentences", sentences),
                          None if words is None else _positive("words", words))


def _is_one(item: Any) -> bool:
    from presslens.model.text import Article

    return isinstance(item, (str, dict, Article))


def _articles(items) -> tuple[bool, list]:
    """(whether one item was given, the articles) through ``model.intake``; an ``IntakeError`` names the item."""
    single = _is_one(items)
    seq = [items] if single else _as_list(items, "texts_or_articles")
    if not seq:
        from presslens.model.intake import IntakeError

        raise IntakeError("no articles given", "empty")
    return single, [_article(item, i) for i, item in enumerate(seq)]


def _as_list(items, what: str) -> list:
    if isinstance(items, (bytes, bytearray)):
        raise TypeError(f"{what}: decode bytes to str first (presslens reads UTF-8 text)")
    if not isinstance(items, Iterable):
        raise TypeError(f"{what} must be a string or a list, got {type(items).__name__}")
    return list(items)


def _article(item, i: int):
    """One input as an ``Article``: text, a dict, or an ``Article`` as it is."""
    from presslens.model.intake import IntakeError, to_article
    from presslens.model.text import Article

    if isinstance(item, Article):
        if not item.sentences:
            raise IntakeError(f"{item.id}: no sentences left after cleaning (is it an article?)", "no_text")
        return item
    if isinstance(item, str):
        fields = {"text": item}
    elif isinstance(item, dict):
        unknown = sorted(set(item) - _DICT_KEYS, key=str)
        if unknown:
            raise ValueError(f"article {i}: unknown key {unknown[0]!r} (give text or html, and optionally title, id)")
        fields = {k: v for k, v in item.items() if v is not None}
        for key, value in fields.items():
            if not isinstance(value, str):
                raise TypeError(f"article {i}: {key!r} must be a string, got {type(value).__name__}")
    else:
        raise TypeError(f"article {i}: expected a string, a dict or an Article, got {type(item).__name__}")
    ident = fields.pop("id", None) or f"article-{i}"
    try:
        return to_article(**fields, id=ident)
    except IntakeError as exc:
        raise IntakeError(f"{ident}: {exc}", exc.kind) from None


def _sentences(items) -> tuple[bool, list[str]]:
    from presslens.model.intake import IntakeError

    single = isinstance(items, str)
    texts = [items] if single else _as_list(items, "sentences")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"sentence {i}: expected a string, got {type(t).__name__}")
        if not t.strip():
            raise IntakeError(f"sentence {i} is empty", "empty")
    return single, texts


def _bar(total: int, unit: str, progress: bool | None):
    """A tqdm bar over ``total`` items; shown when ``progress`` is True, or left None and stderr a terminal."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, unit=unit, disable=not show or total == 0)  # left on screen: its last state is the count


ARTICLE_COLUMNS = ("id", "title", "label", "confidence", "editorial_probability", "n_sentences", "n_commentary",
                   "commentary", "summary")
SENTENCE_COLUMNS = ("id", "index", "text", "start", "end", "is_title", "paragraph", "commentary", "probability",
                    "reported", "speaker", "in_summary")


def to_pandas(results, level: str = "article"):
    """A ``pandas.DataFrame`` of ``analyze`` (or ``coverage``) results: one row per article
    (``level="article"``: ``ARTICLE_COLUMNS``, ``summary`` the summary's sentences joined) or per sentence
    (``level="sentence"``: ``SENTENCE_COLUMNS``, ``id`` the article's). ``classify`` results give one row
    per sentence (``text``, ``label``, ``probability``) at either level."""
    if level not in ("article", "sentence"):
        raise ValueError(f"level must be 'article' or 'sentence', got {level!r}")
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("presslens.to_pandas needs pandas: pip install pandas") from None
    items = _result_dicts(results)
    if items and "sentences" not in items[0]:  # classify results
        return pd.DataFrame(items, columns=["text", "label", "probability"])
    if level == "article":
        rows = [_article_row(d) for d in items]
        return pd.DataFrame(rows, columns=list(ARTICLE_COLUMNS))
    rows = [row for d in items for row in _sentence_rows(d)]
    return pd.DataFrame(rows, columns=list(SENTENCE_COLUMNS))


def _result_dicts(results) -> list[dict]:
    from presslens.model.pipeline import Analysis, CoverageResult

    if isinstance(results, CoverageResult):
        results = results.analyses
    elif isinstance(results, (Analysis, SentenceLabel)):
        results = [results]
    out = []
    for r in _as_list(results, "results"):
        if isinstance(r, CoverageResult):
            out.extend(a.to_dict() for a in r.analyses)
        elif isinstance(r, (Analysis, SentenceLabel)):
            out.append(r.to_dict())
        else:
            raise TypeError(f"to_pandas takes what analyze, coverage or classify return, not {type(r).__name__}")
    if len({"sentences" in d for d in out}) > 1:
        raise TypeError("to_pandas: do not mix classify results with article results")
    return out


def _article_row(d: dict) -> dict:
    body = [s for s in d["sentences"] if not s["is_title"]]
    return {"id": d["id"], "title": d["title"], "label": d["label"], "confidence": d["confidence"],
            "editorial_probability": d["editorial_probability"], "n_sentences": len(body),
            "n_commentary": len(d["commentary"]), "commentary": list(d["commentary"]),
            "summary": " ".join(s["text"] for s in d["summary"])}


def _sentence_rows(d: dict) -> list[dict]:
    chosen = {s["index"] for s in d["summary"]}
    return [{"id": d["id"], **{k: s[k] for k in SENTENCE_COLUMNS[1:-1]}, "in_summary": s["index"] in chosen}
            for s in d["sentences"]]
