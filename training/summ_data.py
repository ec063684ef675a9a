"""Summarization data: articles (or clusters of articles) with one or more human reference summaries.

Formats:

* ``writers``: the JSON list of ``{article_id, article, summary}`` rows from "Benchmarking LLMs for News
  Summarization"; rows are grouped by ``article_id`` and all of an article's summaries are its references.
* ``neus``: NeuS / ALLSIDES ``*.source`` (three ``TITLE=> … ARTICLE=> …`` articles per line separated by
  `` [SEP] ``) with the matching ``*.target`` beside it (give either file, or ``DIR:split``). Titles are
  kept apart from the bodies; references are the target's body.
* ``newts``: the NEWTS CSV (CNN/DM articles with two *topic-focused* summaries each; rows sharing a
  ``docId`` are grouped). Generic ROUGE against them carries that caveat.
* ``jsonl``: one object a line with ``article`` (a string) or ``articles`` (a list of strings), and
  ``summary`` / ``abstract`` (a string) or ``summaries`` / ``references`` (a list); ``id`` optional.
* ``sumllm``: the SumLLM CNN/DM release ("On Learning to Summarize with LLMs as References"): a directory
  holding ``{gpt4,gpt3,chatgpt}/{train,val}.jsonl`` (``{"article", "abstract"}`` rows), or one such file.
  The same article written up by several models (gpt4 and gpt3 share their articles) becomes one document
  with all those summaries as its references.

CSV and JSON-lines go through Hugging Face ``datasets``; the two bespoke layouts are read directly (they are
a line-aligned text pair and a small JSON list). Every problem is a ``DataError`` naming file and row.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .data import DataError
from .rouge import ROUGE_TYPES, best_reference_rouge

SUMM_FORMATS = ("writers", "neus", "newts", "jsonl", "sumllm")
SUMLLM_FILES = ("gpt4/train.jsonl", "gpt3/train.jsonl", "chatgpt/val.jsonl", "gpt4/val.jsonl", "gpt3/val.jsonl")


@dataclass
class SummDoc:
    """One evaluation unit: one article (single-document) or several (a cluster), with references."""

    id: str
    articles: list[str]  # article bodies
    references: list[str]
    titles: list[str | None] = field(default_factory=list)
    max_sentences: int = 0  # train on each article's first N sentences only (0: all)

    @property
    def is_cluster(self) -> bool:
        return len(self.articles) > 1


def _need_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")


def load_writers(path: str | Path) -> list[SummDoc]:
    path = Path(path)
    _need_file(path)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file: {exc}") from exc
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of {{article_id, article, summary}} rows")
    groups: OrderedDict[str, SummDoc] = OrderedDict()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(k in row for k in ("article_id", "article", "summary")):
            raise DataError(f"{path}: row {i}: expected keys article_id, article, summary")
        art, summ = row["article"], row["summary"]
        if not isinstance(art, str) or not isinstance(summ, str) or not art.strip() or not summ.strip():
            raise DataError(f"{path}: row {i}: article and summary must be non-empty strings")
        key = str(row["article_id"])
        doc = groups.setdefault(key, SummDoc(key, [art], [], [None]))
        doc.references.append(summ.strip())
    if not groups:
        raise DataError(f"{path}: no rows")
    return list(groups.values())


_NEUS_PART = re.compile(r"^\s*TITLE=>\s*(?P<title>.*?)\s*ARTICLE=>\s*(?P<body>.*)$", re.DOTALL)


def parse_neus_item(text: str) -> tuple[str, str]:
    """(title, body) of one ``TITLE=> … ARTICLE=> …`` item; a missing TITLE marker means no title."""
    m = _NEUS_PART.match(text)
    if not m:
        body = re.sub(r"^\s*ARTICLE=>\s*", "", text)
        return "", body.strip()
    return m.group("title").strip(), m.group("body").strip()


def neus_paths(spec: str | Path) -> tuple[Path, Path]:
    text = str(spec)
    if ":" in text and not Path(text).exists():
        d, split = text.rsplit(":", 1)
        return Path(d) / f"{split}.source", Path(d) / f"{split}.target"
    path = Path(text)
    if path.suffix == ".target":
        return path.with_suffix(".source"), path
    if path.suffix == ".source":
        return path, path.with_suffix(".target")
    raise DataError(f"{path}: give a NeuS .source or .target file, or DIR:split")


def load_neus(spec: str | Path) -> list[SummDoc]:
    src, tgt = neus_paths(spec)
    _need_file(src)
    _need_file(tgt)
    try:
        sources = src.read_text(encoding="utf-8").rstrip("\n").split("\n")
        targets = tgt.read_text(encoding="utf-8").rstrip("\n").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{src}: cannot read: {exc}") from exc
    if len(sources) != len(targets):
        raise DataError(f"{src}: {len(sources)} source lines but {tgt.name} has {len(targets)}")
    docs = []
    for i, (s, t) in enumerate(zip(sources, targets, strict=True)):
        parts = [parse_neus_item(p) for p in s.split(" [SEP] ") if p.strip()]
        parts = [(ti, b) for ti, b in parts if b]
        _, ref = parse_neus_item(t)
        if not parts or not ref:
            raise DataError(f"{src}: line {i + 1}: no article or no reference body")
        docs.append(SummDoc(f"{src.stem}-{i}", [b for _, b in parts], [ref], [ti or None for ti, _ in parts]))
    return docs


def _hf_rows(path: Path, builder: str) -> list[dict]:
    import datasets

    datasets.disable_progress_bars()
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # datasets raises many types for malformed files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as {builder}: {first}") from exc
    return list(ds)


def load_newts(path: str | Path) -> list[SummDoc]:
    path = Path(path)
    _need_file(path)
    rows = _hf_rows(path, "csv")
    groups: OrderedDict[str, SummDoc] = OrderedDict()
    for i, row in enumerate(rows):
        art = row.get("article")
        if not isinstance(art, str) or not art.strip():
            raise DataError(f"{path}: row {i + 1}: no article")
        key = str(row.get("docId") or row.get("docid") or i)
        doc = groups.setdefault(key, SummDoc(key, [art], [], [None]))
        for col in ("summary1", "summary2"):
            s = row.get(col)
            if isinstance(s, str) and s.strip() and s.strip() not in doc.references:
                doc.references.append(s.strip())
    docs = [d for d in groups.values() if d.references]
    if not docs:
        raise DataError(f"{path}: no rows with summary1/summary2")
    return docs


def load_jsonl(path: str | Path) -> list[SummDoc]:
    path = Path(path)
    _need_file(path)
    rows = _hf_rows(path, "json")
    docs = []
    for i, row in enumerate(rows):
        arts = row.get("articles") if row.get("articles") is not None else [row.get("article")]
        refs = row.get("summaries") or row.get("references")
        refs = refs if refs is not None else [row.get("summary", row.get("abstract"))]
        if not isinstance(arts, list) or not arts or not all(isinstance(a, str) and a.strip() for a in arts):
            raise DataError(f"{path}: row {i + 1}: 'article' must be a non-empty string (or 'articles' a list)")
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise DataError(f"{path}: row {i + 1}: 'summary' must be a non-empty string (or 'summaries' a list)")
        docs.append(SummDoc(str(row.get("id") if row.get("id") is not None else i), list(arts),
                            [r.strip() for r in refs], [None] * len(arts)))
    if not docs:
        raise DataError(f"{path}: no rows")
    return docs


def article_key(text: str) -> str:
    """Identity of an article across releases: its first 200 characters, lower-cased, whitespace collapsed."""
    return " ".join(text.lower().split())[:200]


def load_sumllm(path: str | Path) -> list[SummDoc]:
    """SumLLM files (a directory of them, or one), one document per distinct article, ids from its text."""
    import hashlib

    path = Path(path)
    files = [path / f for f in SUMLLM_FILES if (path / f).is_file()] if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no SumLLM files ({', '.join(SUMLLM_FILES)}) in this directory")
    groups: OrderedDict[str, SummDoc] = OrderedDict()
    for f in files:
        for doc in load_jsonl(f):
            key = article_key(doc.articles[0])
            if key not in groups:
                doc_id = "sumllm-" + hashlib.sha256(key.encode()).hexdigest()[:12]
                groups[key] = SummDoc(doc_id, doc.articles[:1], [], [None])
            refs = groups[key].references
            refs.extend(r for r in doc.references if r not in refs)
    return list(groups.values())


def load_summ(path: str | Path, fmt: str) -> list[SummDoc]:
    loaders = {"writers": load_writers, "neus": load_neus, "newts": load_newts, "jsonl": load_jsonl,
               "sumllm": load_sumllm}
    if fmt not in loaders:
        raise DataError(f"unknown summarization format {fmt!r} (choose from {', '.join(SUMM_FORMATS)})")
    return loaders[fmt](path)


# -- ROUGE and oracle labels --------------------------------------------------------------------------

def reference_lines(text: str) -> str:
    """A reference as newline-separated sentences (rougeLsum scores sentence by sentence)."""
    from presslens.model.text import split_sentences

    lines = []
    for para in re.split(r"\n+", text):
        para = para.strip()
        if para:
            lines.extend(para[a:b] for a, b in split_sentences(para))
    return "\n".join(lines) if lines else text.strip()


class Rouge:
    """ROUGE-1/2/Lsum F x100 of candidate sentences, best over references (already newline-split)."""

    TYPES = ROUGE_TYPES

    def score(self, candidate_sentences: list[str], references: list[str]) -> dict[str, float]:
        """Best F x100 per ROUGE type over ``references``."""
        if not references:
            return dict.fromkeys(self.TYPES, 0.0)
        return best_reference_rouge("\n".join(s.strip() for s in candidate_sentences), references)
