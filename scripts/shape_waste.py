"""Padding waste of the encoder's fixed shapes (``model.shapes``) on real articles, against the old dynamic runs.

    python scripts/shape_waste.py [--cnndm PATH.jsonl] [--articles 200]

Sentences come from the seed articles (tests/fixtures) and, if given, the first ``--articles`` articles of a
CNN/DM JSON-lines file (``{"article": ...}``), cut by ``model.text.Article`` and tokenized by the shipped
encoder's tokenizer. Each request size (articles per encoder call: 1, the bench's 8 and the service's 32)
is replayed under each plan; the table gives tokens computed over real tokens and calls per request.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from presslens.model.shapes import ShapePlan, waste

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def dynamic(requests, tokens_per_run=2048, batch_size=32) -> dict:
    """The previous runs: length-sorted, each padded to its own longest, at most tokens_per_run tokens."""
    real = computed = calls = 0
    for lengths in requests:
        order = sorted(lengths, reverse=True)
        i = 0
        while i < len(order):
            n = max(1, min(batch_size, tokens_per_run // max(1, order[i])))
            computed += order[i] * len(order[i:i + n])
            real += sum(order[i:i + n])
            calls += 1
            i += n
    return {"ratio": computed / max(1, real), "dummy_share": 0.0, "calls": calls, "requests": len(requests)}


def sample_texts(cnndm: str | None, articles: int) -> list[str]:
    """The five seed articles, then the first ``articles`` articles of a CNN/DM JSONL file if given."""
    texts = [p.read_text() for p in sorted(FIXTURES.glob("00[0-4]_*.txt"))]
    if cnndm:
        with open(cnndm) as fh:
            texts += [json.loads(line)["article"] for _, line in zip(range(articles), fh, strict=False)]
    return texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnndm", default=None)
    ap.add_argument("--articles", type=int, default=200)
    ns = ap.parse_args()
    from presslens.model.encoder import default_encoder_path
    from presslens.model.text import Article
    from tokenizers import Tokenizer

    texts = sample_texts(ns.cnndm, ns.articles)
    tok = Tokenizer.from_file(str(default_encoder_path() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=128)
    per_article = [[len(e.ids) for e in tok.encode_batch([s.text for s in Article(t).sentences])] for t in texts]
    n_sent = sum(map(len, per_article))
    print(f"{len(texts)} articles, {n_sent} sentences, mean {sum(map(sum, per_article)) / n_sent:.1f} tokens")
    step16 = tuple(range(16, 129, 16))
    plans = {"dynamic (before)": None, "step16 min1": ShapePlan(widths=step16, min_rows=1),
             "step16 min2": ShapePlan(widths=step16), "step16 min2 slack0": ShapePlan(widths=step16, pad_slack=0.0),
             "step32 min2": ShapePlan(widths=(32, 64, 96, 128)), "step8 min2": ShapePlan(widths=tuple(range(8, 129, 8))),
             "default (8 to 64, 16 above)": ShapePlan(), "default slack0": ShapePlan(pad_slack=0.0),
             "default min1": ShapePlan(min_rows=1)}
    print("| plan | shapes | " + " | ".join(f"{k} art/call: computed/real, calls/req" for k in (1, 8, 32)) + " |")
    for name, plan in plans.items():
        cells = []
        for k in (1, 8, 32):
            reqs = [[n for a in per_article[i:i + k] for n in a] for i in range(0, len(per_article), k)]
            w = dynamic(reqs) if plan is None else waste(plan, reqs)
            cells.append(f"{w['ratio']:.3f}, {w['calls'] / w['requests']:.1f}")
        print(f"| {name} | {'-' if plan is None else len(plan.shapes())} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
