"""Interleaved A/B of the served encoder: fixed shapes (``model.shapes``) against the previous dynamic runs.

    python scripts/shape_ab.py [EXPORT_DIR] [--cnndm PATH.jsonl] [--articles 40] [--rounds 3]

EXPORT_DIR: a cached export (``~/.cache/presslens/onnx/<key>`` or ``<key>-bf16``; default: the first bf16 one,
else the first fp32 one). Prints the warm-up (shapes, seconds, RSS growth) and, per articles-per-call (1, 8,
32), articles/s of each variant, best of ``--rounds`` interleaved rounds, and the RSS at the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def dynamic(enc, texts):
    """The encoder's runs before fixed shapes: length-sorted, each padded to its longest, 2,048 tokens a run."""
    ids = enc.token_ids(texts)
    out = np.zeros((len(ids), enc.dim), np.float32)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    i = 0
    while i < len(order):
        width = max(1, len(ids[order[i]]))
        idx = order[i:i + max(1, min(32, 2048 // width))]
        a = np.zeros((len(idx), width), np.int64)
        m = np.zeros_like(a)
        for r, j in enumerate(idx):
            a[r, :len(ids[j])] = ids[j]
            m[r, :len(ids[j])] = 1
        out[idx] = enc.session.run(None, {"input_ids": a, "attention_mask": m})[0]
        i += len(idx)
    return out


def main() -> None:
    from presslens.model.runtime import lowp
    from presslens.model.runtime.onnx import cache_root
    from presslens.model.text import Article

    ap = argparse.ArgumentParser()
    ap.add_argument("export", nargs="?")
    ap.add_argument("--cnndm")
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    from shape_waste import sample_texts  # scripts/ is on sys.path when a script runs

    texts = sample_texts(ns.cnndm, ns.articles)
    arts = [[s.text for s in Article(t).sentences] for t in texts]
    exports = sorted(cache_root().glob("*-bf16")) or sorted(p for p in cache_root().iterdir() if p.is_dir())
    enc = lowp.load(ns.export or exports[0])
    r1 = rss_mib()
    t0 = time.perf_counter()
    shapes = enc.warm()
    print(f"{enc.runtime} {enc.precision}: warmed {shapes} shapes in {time.perf_counter() - t0:.2f} s, "
          f"RSS {r1:.0f} -> {rss_mib():.0f} MiB", flush=True)

    def rate(fn, k: int) -> float:
        t0, n = time.perf_counter(), 0
        for i in range(0, len(arts), k):
            fn([s for a in arts[i:i + k] for s in a])
            n += len(arts[i:i + k])
        return n / (time.perf_counter() - t0)

    variants = {"dynamic (before)": lambda t: dynamic(enc, t), "fixed shapes": enc.encode}
    for k in (1, 8, 32):
        rate(variants["dynamic (before)"], k)  # the dynamic shapes' first runs, as the warm-up did for fixed
    best: dict = {}
    for _ in range(ns.rounds):
        for k in (1, 8, 32):
            for name, fn in variants.items():
                best[(name, k)] = max(best.get((name, k), 0.0), rate(fn, k))
    for (name, k), v in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{k:>2} articles/call  {name:<18} {v:7.2f} articles/s")
    print(f"RSS at the end {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
