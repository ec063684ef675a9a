"""The naive peer for ``presslens bench``: what a plain transformers-model-behind-FastAPI setup does.

Same request and response shape as the real service (``POST /v1/analyze``), same checkpoint, same sentence
segmentation and the same result object, but the way a first version is usually written: a synchronous
route (FastAPI runs it in its thread pool, so concurrent requests fight over the CPU with no queue), and
every sentence of every article through the encoder on its own -- tokenize one sentence, one forward pass,
pool -- with no batching across sentences or requests, through the model's own (transformers) forward.
The differences from the real service are how the work is scheduled and how the encoder runs (the
service packs the tokens of all sentences, see ``model.encoder.PackedBert``); the weights and the
results are the same, so the speedup the benchmark reports is the serving design's, not a different
model's.

Run: ``python -m presslens.eval.naive_server --port 8001 [--model DIR]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager

from presslens.model.limits import MAX_ARTICLE_CHARS
from presslens.model.settings import quiet_tokenizers
from pydantic import BaseModel, Field


# Module level, not inside the factory: FastAPI resolves the route's (string) annotations from globals.
class ArticleIn(BaseModel):
    id: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=1000)
    text: str = Field(..., min_length=1, max_length=MAX_ARTICLE_CHARS)


class AnalyzeRequest(BaseModel):
    articles: list[ArticleIn] = Field(..., min_length=1, max_length=64)
    summary_sentences: int = Field(3, ge=1, le=50)


def create_naive_app(model: str | None = None, *, setup: Callable[[object], None] | None = None,
                     per_request: bool = False, title: str = "naive peer"):
    """The peer's app. ``setup`` replaces how the loaded analyzer encodes (the naive default: one sentence
    per forward pass); ``per_request`` analyses a request's articles in one call instead of one by one."""
    from fastapi import FastAPI, HTTPException

    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from presslens.model.pipeline import Analyzer

        analyzer = Analyzer.load(model, runtime="torch", precision="fp32")  # the naive peer: plain torch
        (setup or one_sentence_at_a_time)(analyzer)
        state["analyzer"] = analyzer
        yield
        state.clear()

    app = FastAPI(title=title, lifespan=lifespan)

    @app.get("/readyz")
    def readyz() -> dict:
        if "analyzer" not in state:
            raise HTTPException(503, "model not loaded yet")
        return {"status": "ready"}

    @app.post("/v1/analyze")
    def analyze(req: AnalyzeRequest) -> list[dict]:
        from presslens.model.pipeline import AnalyzeOptions
        from presslens.model.text import Article

        analyzer = state["analyzer"]
        options = AnalyzeOptions(summary_sentences=req.summary_sentences)
        articles = []
        for i, a in enumerate(req.articles):
            article = Article(a.text, id=a.id or f"article-{i}", title=a.title)
            if not article.sentences:
                raise HTTPException(422, f"article {i}: no sentences left after cleaning")
            articles.append(article)
        if per_request:  # every sentence of the request through the encoder in one call
            return [r.to_dict() for r in analyzer.analyze(articles, options)]
        # One article at a time, each sentence on its own inside embed(): no batching anywhere.
        return [analyzer.analyze([article], options)[0].to_dict() for article in articles]

    return app


def one_sentence_at_a_time(analyzer) -> None:
    """The naive encoder: fixed shapes, length-bucketed batching and the packed forward switched off."""
    analyzer.encoder.batch_size = 1
    analyzer.encoder.packed = False
    analyzer.encoder.shapes = None


def serve_peer(argv: list[str] | None, module: str, doc: str, port: int, **app_options) -> int:
    """A peer's command line (``python -m MODULE [--host] [--port] [--model]``): its app on uvicorn."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--model", default=None, help="stance profile or checkpoint directory (default: default)")
    ns = parser.parse_args(argv)
    quiet_tokenizers()  # before the tokenizer loads; not at import
    import uvicorn

    uvicorn.run(create_naive_app(ns.model, **app_options), host=ns.host, port=ns.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve_peer(argv, "eval.naive_server", __doc__, 8001)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
