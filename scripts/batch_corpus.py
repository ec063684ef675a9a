"""Build the 503-row JSONL corpus of the ``presslens batch`` bar (issue #14) from ../shared at run time.

500 CNN/DM articles (the first 500 of sumllm_cnndm/chatgpt/val.jsonl) with their reference summary passed
through as ``abstract`` and a ``source`` column (cnn when the text carries the "(CNN)" dateline, else
dailymail), plus three bad rows: an empty text, a null text and a 3.5 MB text. Nothing is copied into git:

    python scripts/batch_corpus.py --data ../shared/data --out /work/cache/batch/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def build(data: Path, n: int = 500) -> list[dict]:
    src = data / "sumllm_cnndm" / "chatgpt" / "val.jsonl"
    with src.open(encoding="utf-8") as fh:
        articles = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    rows = [{"id": f"cnndm-val-{i:04d}", "text": a["article"], "abstract": a["abstract"],
             "source": "cnn" if "(CNN)" in a["article"][:300] else "dailymail"} for i, a in enumerate(articles)]
    big = "\n\n".join(a["article"] for a in articles)
    huge = (big * (3_500_000 // len(big) + 1))[:3_500_000]
    bad = [{"id": "bad-empty", "text": "", "source": "bad"}, {"id": "bad-null", "text": None, "source": "bad"},
           {"id": "bad-huge", "text": huge, "source": "bad"}]
    for k, row in enumerate(bad):  # spread through the file, so each lands in a different shard
        rows.insert((k + 1) * n // 4, row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", type=Path)
    ap.add_argument("--out", default="/work/cache/batch/corpus.jsonl", type=Path)
    ns = ap.parse_args()
    rows = build(ns.data)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    with ns.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {ns.out}")


if __name__ == "__main__":
    main()
