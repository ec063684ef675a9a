"""The competent peer for ``presslens bench``: what a capable user writes in an afternoon.

Same request and response shape (``POST /v1/analyze``), same checkpoint, same head, segmentation and
result object as the real service; the encoder is the standard tool for the job, a sentence-transformers
``SentenceTransformer`` over the same (fine-tuned) weights, called once per request on all of that
request's sentences (``encode`` sorts them by length and batches them itself). The route is a plain
synchronous FastAPI route, so concurrent requests run side by side in FastAPI's thread pool with no
batching queue across requests. What separates it from presslens is the serving design (the batching
queue that merges requests, one worker) and the encoder runtime, not the model.

Run: ``python -m presslens.eval.competent_server --port 8002 [--model DIR]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class SentenceTransformerEncoder:
    """The ``Encoder`` interface over a ``SentenceTransformer`` holding the given encoder's weights."""

    runtime = "sentence-transformers"

    def __init__(self, encoder, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.ref, self.dim, self.max_length, self.device = encoder.ref, encoder.dim, encoder.max_length, encoder.device
        self.batch_size = batch_size
        base = encoder_directory(encoder)
        self.model = SentenceTransformer(str(base), device=str(encoder.device), local_files_only=True)
        self.model.max_seq_length = encoder.max_length
        # The checkpoint's fine-tuned weights into the transformer inside the sentence-transformers pipeline.
        inner = next(m for m in self.model.modules() if type(m) is type(encoder.model))
        inner.load_state_dict(encoder.model.state_dict())

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=batch_size or self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False).astype(np.float32)


def encoder_directory(encoder) -> Path:
    """The directory the torch encoder's base weights and tokenizer came from."""
    from presslens.model.encoder import resolve_model_path

    path = Path(encoder.model.config.name_or_path or resolve_model_path(encoder.ref))
    return path if path.is_dir() else Path(resolve_model_path(encoder.ref))


def use_sentence_transformers(analyzer) -> None:
    analyzer.stance.encoder = SentenceTransformerEncoder(analyzer.stance.encoder)


def main(argv: list[str] | None = None) -> int:
    from .naive_server import serve_peer

    return serve_peer(argv, "eval.competent_server", __doc__, 8002, setup=use_sentence_transformers,
                      per_request=True, title="competent peer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
