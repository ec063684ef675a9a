"""Fixed encoder shapes: the one plan every encoder (torch, ONNX Runtime, OpenVINO) runs its batches by.

A sentence is padded to a *length bucket* chosen from its own token count alone (the smallest of a small fixed
set of widths up to ``max_length``), and sentences of one bucket run in batches of a
small fixed set of *row counts* (powers of two from ``min_rows`` up to what ``tokens_per_run`` allows), a short
batch padded with copies of a real row whose outputs are dropped. So:

- a sentence's embedding depends on its own tokens, its bucket and the row count of its run, never on which
  sentences share the run (measured: OpenVINO bf16 and ONNX Runtime fp32 give bit-identical rows for every
  row count and position from ``min_rows`` = 2 up; ONNX Runtime's one-row run differs in the 8th decimal,
  hence the floor of 2); tests/model/test_shapes.py checks an article alone against the same article inside
  a mixed batch;
- the set of shapes an encoder ever sees (``ShapePlan.shapes``) is finite and small, so a runtime's per-shape
  caches (OpenVINO's compiled kernels) are bounded by construction and can be warmed at load.

Padding waste (tokens computed / real tokens) is what the plan costs; ``waste`` measures it and
``eval``/``scripts`` report it. Within one call the sentences are grouped by bucket (sorting by length), so a
request's buckets fill before any row is padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


@dataclass(frozen=True)
class Run:
    """One encoder call: ``width`` tokens per row, ``rows`` rows, the first ``len(index)`` of them real
    (the sentences at ``index`` of the input); the rest repeat the first row."""

    width: int
    rows: int
    index: tuple[int, ...]


@dataclass(frozen=True)
class ShapePlan:
    """Length buckets and row counts for an encoder whose longest input is ``max_length`` tokens."""

    max_length: int = 128
    #: bucket widths (those under ``max_length``, then ``max_length`` itself): steps of 8 tokens where most
    #: sentences fall, 16 above (scripts/shape_waste.py measures the choice)
    widths: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128)
    tokens_per_run: int = 1024  # rows x width of the largest run: bounds the activations of one call
    max_rows: int = 32
    min_rows: int = 2
    #: a bucket's last run is padded up to the next row count when that adds at most this share of its rows;
    #: otherwise it is split into smaller power-of-two runs (padding costs compute, a split costs a call)
    pad_slack: float = 0.25

    @property
    def buckets(self) -> tuple[int, ...]:
        return (*sorted(w for w in set(self.widths) if 0 < w < self.max_length), self.max_length)

    def bucket(self, tokens: int) -> int:
        """The width a sentence of ``tokens`` tokens is padded to: the narrowest bucket that holds it."""
        tokens = min(int(tokens), self.max_length)
        return next(w for w in self.buckets if w >= tokens)

    def row_cap(self, width: int) -> int:
        return max(self.min_rows, min(self.max_rows, _pow2_floor(self.tokens_per_run // width)))

    def row_counts(self, width: int) -> tuple[int, ...]:
        cap, out, n = self.row_cap(width), [], self.min_rows
        while n <= cap:
            out.append(n)
            n *= 2
        return tuple(out)

    def shapes(self) -> list[tuple[int, int]]:
        """Every (rows, width) a run of this plan can have: the finite set a runtime compiles and caches."""
        return [(rows, width) for width in self.buckets for rows in self.row_counts(width)]

    def _split(self, count: int, width: int) -> list[tuple[int, int]]:
        """(real rows, run rows) for ``count`` sentences of one bucket."""
        cap, out = self.row_cap(width), []
        while count > 0:
            if count >= cap:
                take = run = cap
            else:
                up = max(self.min_rows, 1 << (count - 1).bit_length())
                if up - count <= self.pad_slack * count or count < self.min_rows:
                    take, run = count, up
                else:
                    take = run = _pow2_floor(count)
            out.append((take, run))
            count -= take
        return out

    def runs(self, lengths: Sequence[int]) -> list[Run]:
        """The calls that embed sentences of ``lengths`` tokens: grouped by bucket, widest first."""
        by_bucket: dict[int, list[int]] = {}
        for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
            by_bucket.setdefault(self.bucket(lengths[i]), []).append(i)
        out = []
        for width, idx in by_bucket.items():
            pos = 0
            for take, rows in self._split(len(idx), width):
                out.append(Run(width, rows, tuple(idx[pos : pos + take])))
                pos += take
        return out


def waste(plan: ShapePlan, requests: Sequence[Sequence[int]]) -> dict:
    """Padding cost of ``plan`` over ``requests`` (each the token counts of one encoder call): tokens computed
    (rows x width, dummy rows included) over real tokens, the dummy rows' share, and the calls made."""
    real = computed = dummy = calls = 0
    for lengths in requests:
        for run in plan.runs(lengths):
            real += sum(min(lengths[i], plan.max_length) for i in run.index)
            computed += run.rows * run.width
            dummy += (run.rows - len(run.index)) * run.width
            calls += 1
    return {"real_tokens": real, "computed_tokens": computed, "ratio": computed / max(1, real),
            "dummy_share": dummy / max(1, computed), "calls": calls, "requests": len(requests)}


def pad_run(run: Run, ids: Sequence[Sequence[int]]):
    """(input_ids, attention_mask) int64 arrays of shape (run.rows, run.width) for a run over token ``ids``;
    rows past the real ones repeat the first real row (their outputs are dropped)."""
    import numpy as np

    input_ids = np.zeros((run.rows, run.width), dtype=np.int64)
    mask = np.zeros((run.rows, run.width), dtype=np.int64)
    for row in range(run.rows):
        seq = ids[run.index[row] if row < len(run.index) else run.index[0]][: run.width]
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def warm_inputs(plan: ShapePlan):
    """One (input_ids, attention_mask) pair per shape of ``plan``: what a runtime runs once to compile it."""
    import numpy as np

    for rows, width in plan.shapes():
        yield np.zeros((rows, width), dtype=np.int64), np.ones((rows, width), dtype=np.int64)
