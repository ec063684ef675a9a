"""The unlabelled pool the student is distilled on: news sentences from the articles in ../shared/data.

Each source is ``FORMAT:PATH``: ``neus`` (a NeuS ``.source`` file: every outlet's excerpt), ``newts`` (the
NEWTS csv), ``jsonl`` (rows with an ``article``, e.g. ``sumllm_cnndm/gpt4/train.jsonl``), ``basil`` (the
BASIL directory: the **calibration half only**; the held-out half is an evaluation set) and ``sentences``
(a labelled sentence file whose labels are ignored, e.g. BABE). Articles are segmented exactly as the
Analyzer segments them; titles and fragments are dropped, sentences are deduplicated, and any sentence
that also occurs in an ``exclude`` file (the CheckThat! dev and test splits, the gold training data) is
left out. The pool's identity is the SHA-256 of its sentences, which keys the teacher-output cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import DataError, load_basil, load_sentences, normalize_key
from .summ_data import load_neus, load_newts

POOL_FORMATS = ("neus", "newts", "jsonl", "basil", "sentences")


def texts_sha256(texts: list[str]) -> str:
    """SHA-256 of the sentences in order, one per line: the identity of a pool (or a chunk of one)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class Pool:
    texts: list[str]
    sources: list[str]  # the source spec each sentence came from

    @property
    def sha256(self) -> str:
        return texts_sha256(self.texts)

    def save(self, path: str | Path) -> None:
        from presslens.model.io import atomic_file

        with atomic_file(path) as tmp, tmp.open("w", encoding="utf-8") as f:
            for t, s in zip(self.texts, self.sources, strict=True):
                f.write(json.dumps({"text": t, "source": s}, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Pool:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        return cls([r["text"] for r in rows], [r.get("source", "") for r in rows])


def _split_spec(spec: str) -> tuple[str, str]:
    fmt, sep, path = spec.partition(":")
    if not sep or fmt not in POOL_FORMATS:
        raise DataError(f"pool source {spec!r}: expected FORMAT:PATH with FORMAT one of {', '.join(POOL_FORMATS)}")
    if not Path(path).exists():
        raise DataError(f"pool source {spec!r}: {path} does not exist")
    return fmt, path


def source_sentences(spec: str) -> list[str]:
    """The body sentences of every article in one source (or the texts of a sentence file)."""
    from presslens.model.text import Article

    fmt, path = _split_spec(spec)
    if fmt == "sentences":
        return list(load_sentences(path).texts)
    if fmt == "basil":
        articles = [(r["text"], r["title"]) for r in load_basil(path, half="calib")]
    elif fmt == "jsonl":
        articles = [(a, None) for a in _jsonl_articles(Path(path))]
    else:
        loader = {"neus": load_neus, "newts": load_newts}[fmt]
        articles = [(a, t) for d in loader(path) for a, t in zip(d.articles, d.titles, strict=True)]
    return [s.text for text, title in articles for s in Article(text, title=title).body_sentences]


def _jsonl_articles(path: Path) -> list[str]:
    """The ``article`` field of every JSON line (summaries, if any, are not needed for the pool)."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            art = json.loads(line).get("article")
        except (json.JSONDecodeError, AttributeError):
            raise DataError(f"{path}: line {i}: not a JSON object") from None
        if isinstance(art, str) and art.strip():
            out.append(art)
    return out


def keep_sentence(text: str, min_words: int = 6, max_words: int = 60) -> bool:
    n = len(text.split())
    return min_words <= n <= max_words and any(c.isalpha() for c in text)


def build_pool(specs: list[str], exclude: list[str] = (), size: int = 20000, seed: int = 13) -> Pool:
    """Up to ``size`` distinct sentences, each source contributing in proportion to its share (seeded)."""
    banned = {normalize_key(t) for p in exclude for t in load_sentences(p).texts}
    seen: set[str] = set()
    per_source: list[tuple[str, list[str]]] = []
    for spec in specs:
        kept = []
        for t in source_sentences(spec):
            key = normalize_key(t)
            if key in banned or key in seen or not keep_sentence(t):
                continue
            seen.add(key)
            kept.append(t)
        per_source.append((spec, kept))
    total = sum(len(k) for _, k in per_source)
    if total == 0:
        raise DataError("the pool sources hold no usable sentences")
    rng = np.random.default_rng(seed)
    picked: list[tuple[str, str]] = []
    for spec, kept in per_source:
        k = min(len(kept), int(round(size * len(kept) / total))) if total > size else len(kept)
        picked += [(kept[int(i)], spec) for i in (sorted(rng.choice(len(kept), size=k, replace=False)) if k else [])]
    # a seeded shuffle, so that any prefix of the pool is a sample of every source (label a prefix first)
    order = rng.permutation(len(picked))
    return Pool([picked[i][0] for i in order], [picked[i][1] for i in order])
