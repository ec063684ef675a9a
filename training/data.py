"""Labelled sentence data for the stance model, loaded through Hugging Face ``datasets``.

Formats (``auto`` picks by columns): ``checkthat`` (CLEF CheckThat! SUBJ/OBJ TSVs; the official files are
written without CSV quoting, the labelled 2025 test with it), ``newssd`` (NewsSD-ENG CSV), ``babe``
(BABE ``;``-separated, ``label_opinion``), and ``csv`` / ``tsv`` / ``jsonl`` / ``parquet`` or a hub id with
``text,label`` (labels ``neutral`` / ``editorial``; 0/1 and OBJ/SUBJ are accepted too). Every row is
checked; a bad one stops loading with an error naming the file and the row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("auto", "checkthat", "newssd", "babe", "csv", "tsv", "jsonl", "parquet")

GENERIC_LABELS = {
    "neutral": "neutral", "editorial": "editorial",
    "0": "neutral", "1": "editorial",
    "obj": "neutral", "subj": "editorial",
    "objective": "neutral", "subjective": "editorial",
}
_BABE_LABELS = {
    "entirely factual": "neutral",
    "expresses writer's opinion": "editorial",
    "expresses writer’s opinion": "editorial",
    "somewhat factual but also opinionated": None,  # ambiguous: left out of training and evaluation
    "no agreement": None,
}


class DataError(ValueError):
    """Bad labelled data; the message names the file and the row."""


@dataclass
class LabelledSentences:
    texts: list[str]
    labels: list[str]  # "neutral" / "editorial"
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def y(self) -> list[int]:
        return [int(lbl == "editorial") for lbl in self.labels]


def normalize_key(text: str) -> str:
    """Case- and whitespace-insensitive key used to deduplicate sentences across splits."""
    return re.sub(r"\s+", " ", text).strip().lower()


def _read_header(path: Path, delimiter: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(delimiter)]


def detect_format(path: str) -> str:
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.exists():
        return "hub"
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".tsv":
        header = _read_header(p, "\t")
        return "checkthat" if "sentence" in header and "label" in header else "tsv"
    header = _read_header(p, ";")
    if "label_opinion" in header:
        return "babe"
    header = _read_header(p, ",")
    if "Sentence" in header and "Label" in header:
        return "newssd"
    return "csv"


def load_rows(path: str, fmt: str):
    """Rows as a ``datasets.Dataset`` for file formats, or a hub dataset's train split."""
    from datasets import load_dataset

    common = {"split": "train"}
    if fmt == "hub":
        return load_dataset(path, **common)
    if fmt == "checkthat":
        # The official TSVs are unquoted; the labelled 2025 test (sentence first) uses normal quoting.
        header = _read_header(Path(path), "\t")
        quoting = csv.QUOTE_NONE if header and header[0] == "sentence_id" else csv.QUOTE_MINIMAL
        return load_dataset("csv", data_files=path, delimiter="\t", quoting=quoting, keep_default_na=False,
                            **common)
    if fmt == "babe":
        return load_dataset("csv", data_files=path, delimiter=";", encoding="utf-8-sig", keep_default_na=False,
                            **common)
    if fmt in ("csv", "newssd"):
        return load_dataset("csv", data_files=path, keep_default_na=False, **common)
    if fmt == "tsv":
        return load_dataset("csv", data_files=path, delimiter="\t", keep_default_na=False, **common)
    if fmt == "jsonl":
        return load_dataset("json", data_files=path, **common)
    if fmt == "parquet":
        return load_dataset("parquet", data_files=path, **common)
    raise DataError(f"{path}: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def load_sentences(path: str, fmt: str = "auto") -> LabelledSentences:
    """Load and validate one labelled file; raises ``DataError`` naming file and row on bad input."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt != "hub" and not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        rows = load_rows(path, fmt)
    except DataError:
        raise
    except Exception as exc:  # datasets / pandas / pyarrow parse errors
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot parse as {fmt}: {msg}") from exc
    cols = set(rows.column_names)
    if fmt == "checkthat":
        text_col, label_col, mapping = "sentence", "label", GENERIC_LABELS
    elif fmt == "newssd":
        text_col, label_col, mapping = "Sentence", "Label", GENERIC_LABELS
    elif fmt == "babe":
        text_col, label_col, mapping = "text", "label_opinion", _BABE_LABELS
    else:
        text_col, label_col, mapping = "text", "label", GENERIC_LABELS
    missing = {text_col, label_col} - cols
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}; found {', '.join(sorted(cols))}")
    texts, labels = [], []
    for i, (text, label) in enumerate(zip(rows[text_col], rows[label_col], strict=True), start=1):
        key = str(label).strip().lower() if label is not None else ""
        if key not in mapping:
            raise DataError(f"{path}: row {i}: unknown label {label!r} (expected neutral or editorial)")
        if mapping[key] is None:
            continue
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: row {i}: empty text")
        texts.append(text.strip())
        labels.append(mapping[key])
    if not texts:
        raise DataError(f"{path}: no labelled rows")
    return LabelledSentences(texts, labels, source=path)


def concat(parts: list[LabelledSentences]) -> LabelledSentences:
    texts = [t for p in parts for t in p.texts]
    labels = [lbl for p in parts for lbl in p.labels]
    return LabelledSentences(texts, labels, source="+".join(p.source for p in parts))


def deduplicate(train: LabelledSentences, *held_out: LabelledSentences) -> tuple[LabelledSentences, int]:
    """Drop training sentences that repeat within train or appear in any held-out split."""
    seen = {normalize_key(t) for h in held_out for t in h.texts}
    texts, labels, dropped = [], [], 0
    for t, lbl in zip(train.texts, train.labels, strict=True):
        k = normalize_key(t)
        if k in seen:
            dropped += 1
            continue
        seen.add(k)
        texts.append(t)
        labels.append(lbl)
    return LabelledSentences(texts, labels, train.source), dropped


def basil_half(triplet: str) -> str:
    """A fixed, content-independent split of BASIL events (triplets) into ``calib`` and ``heldout``."""
    return "calib" if int(hashlib.sha256(triplet.encode()).hexdigest()[:8], 16) % 2 == 0 else "heldout"


def load_basil(directory: str | Path, half: str = "all") -> list[dict]:
    """BASIL articles (all straight news reports) as ``{id, title, text, label: 'neutral', half}``.

    ``half`` keeps one half of the events: the article rule is calibrated on ``calib`` and checked on
    ``heldout``; the three outlets' reports of one event always fall in the same half.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{directory}: BASIL expects a directory (with articles/<year>/*.json)")
    articles_dir = root / "articles" if (root / "articles").is_dir() else root
    files = sorted(articles_dir.rglob("*.json"))
    if not files:
        raise DataError(f"{directory}: no BASIL article JSON files found (expected articles/<year>/*.json)")
    rows = []
    for f in files:
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            paragraphs = [" ".join(p) if isinstance(p, list) else str(p) for p in d["body-paragraphs"]]
            triplet = str(d.get("triplet-uuid") or f.stem.rsplit("_", 1)[0])
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise DataError(f"{f}: not a BASIL article ({exc})") from exc
        h = basil_half(triplet)
        if half != "all" and h != half:
            continue
        rows.append({"id": f.stem, "title": d.get("title") or None, "text": "\n".join(paragraphs),
                     "label": "neutral", "half": h})
    return rows


def gate_dev_set(path: str | None):
    """A labelled file as the precision gate's dev set (``model.gate.DevSet``), None without a path;
    ``presslens prepare --gate-dev`` and ``presslens bench --gate-dev`` read it here."""
    if not path:
        return None
    from presslens.model.runtime.gate import DevSet

    data = load_sentences(path)
    return DevSet.of(data.texts, data.labels, Path(path).name)
