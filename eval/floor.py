"""The compute floor for ``presslens bench``: the articles/s no implementation of the model could beat here.

Tokens the encoder must process for the mix (its own tokenizer, with its truncation), FLOPs = 2 x
non-embedding parameters x tokens + the attention term 4 x layers x hidden x length^2 per sentence, and this
machine's fp32 matrix-multiply rate measured now with torch on encoder-shaped GEMMs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EncoderCost:
    sentences: int
    tokens: int
    flops: float
    params_nonembedding: int
    layers: int
    hidden: int
    max_length: int
    per_article_flops: list[float] = field(default_factory=list)


def encoder_cost(encoder, articles: Sequence[dict]) -> EncoderCost:
    """Tokens and forward FLOPs the encoder needs for every sentence of every article (padding excluded)."""
    from presslens.model.text import Article

    model = encoder.model
    params = sum(p.numel() for n, p in model.named_parameters()
                 if "embeddings" not in n and not n.startswith("pooler"))
    cfg = model.config
    layers, hidden = int(cfg.num_hidden_layers), int(cfg.hidden_size)
    total_tokens = total_sents = 0
    per_article = []
    for a in articles:
        sents = [s.text for s in Article(a["text"], id=a["id"]).sentences]
        lens = np.array(encoder.count_tokens(sents), dtype=float)
        total_tokens += int(lens.sum())
        total_sents += len(sents)
        # Dense layers: 2 FLOPs per parameter per token. Attention: QK^T and AV, 2*len^2*hidden each per layer.
        per_article.append(float(2 * params * lens.sum() + 4 * layers * hidden * (lens ** 2).sum()))
    return EncoderCost(total_sents, total_tokens, float(sum(per_article)), int(params), layers, hidden,
                       int(encoder.max_length), per_article)


def _operands(m: int, k: int, n: int, dtype: str, gen):
    """Operands and the product for ``dtype``: fp32 / bf16 ``torch.mm``; int8 ``torch._int_mm`` (int32 out)."""
    import torch

    if dtype == "int8":
        a = torch.randint(-128, 128, (m, k), generator=gen, dtype=torch.int8)
        b = torch.randint(-128, 128, (k, n), generator=gen, dtype=torch.int8)
        return a, b, torch._int_mm
    if dtype not in ("fp32", "bf16"):
        raise ValueError(f"no matmul rate for dtype {dtype!r}")
    a, b = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
    if dtype == "bf16":
        a, b = a.to(torch.bfloat16), b.to(torch.bfloat16)
    return a, b, torch.mm


def matmul_gflops(hidden: int = 384, seconds: float = 2.0, shapes: Sequence[tuple[int, int, int]] | None = None,
                  threads: int | None = None, dtype: str = "fp32") -> dict:
    """This machine's matmul rate (GFLOP/s; GOP/s for int8) with torch, on encoder-shaped GEMMs; the best
    shape wins.

    Shapes are (tokens, hidden) @ (hidden, 4*hidden) and its transpose, the feed-forward GEMMs that
    dominate an encoder, plus a square one. Each shape runs for about ``seconds / len(shapes)``. ``dtype``:
    fp32 (the floor's denominator), bf16 or int8 (the floors of those precisions, shown beside it).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    shapes = list(shapes or [(2048, hidden, 4 * hidden), (2048, 4 * hidden, hidden), (1024, 1024, 1024)])
    rates = {}
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for m, k, n in shapes:
            a, b, mm = _operands(m, k, n, dtype, gen)
            mm(a, b)  # warm-up: first call allocates and picks a kernel
            best = 0.0
            deadline = time.perf_counter() + seconds / len(shapes)
            for _ in range(1000):  # bounded even on a very fast machine
                t0 = time.perf_counter()
                mm(a, b)
                dt = time.perf_counter() - t0
                best = max(best, 2.0 * m * k * n / dt / 1e9)
                if time.perf_counter() > deadline:
                    break
            rates[f"{m}x{k}x{n}"] = best
    return {"gflops": max(rates.values()), "by_shape": rates, "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------ servers
