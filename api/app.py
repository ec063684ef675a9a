"""FastAPI app factory. The model loads in the lifespan, never at import time."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from .settings import Settings


class ArticleIn(BaseModel):
    id: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=1000)
    text: str = Field(..., min_length=1)


class AnalyzeRequest(BaseModel):
    articles: list[ArticleIn] = Field(..., min_length=1)
    summary_sentences: int = Field(3, ge=1, le=50)
    claims_only: bool = False


def create_app(settings: Settings | None = None, analyzer=None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.analyzer is None:
            from model.pipeline import Analyzer

            app.state.analyzer = await asyncio.to_thread(Analyzer.load, settings.model, settings.summarizer)
        yield

    app = FastAPI(title="presslens", version="0.1.0", lifespan=lifespan)
    app.state.analyzer = analyzer
    app.state.settings = settings

    def get_analyzer(request: Request):
        if request.app.state.analyzer is None:
            raise HTTPException(503, "model not loaded yet")
        return request.app.state.analyzer

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> dict:
        if request.app.state.analyzer is None:
            raise HTTPException(503, "model not loaded yet")
        return {"status": "ready"}

    @app.post("/v1/analyze")
    async def analyze(req: AnalyzeRequest, analyzer: Annotated[object, Depends(get_analyzer)]) -> list[dict]:
        from model.pipeline import AnalyzeOptions
        from model.text import Article

        if len(req.articles) > settings.max_articles:
            raise HTTPException(422, f"at most {settings.max_articles} articles per request")
        articles = []
        for i, a in enumerate(req.articles):
            if len(a.text) > settings.max_chars:
                raise HTTPException(422, f"article {i}: text longer than {settings.max_chars} characters")
            art = Article(a.text, id=a.id or f"article-{i}", title=a.title)
            if not art.sentences:
                raise HTTPException(422, f"article {i}: no sentences left after cleaning")
            articles.append(art)
        opts = AnalyzeOptions(summary_sentences=req.summary_sentences, claims_only=req.claims_only)
        results = await asyncio.to_thread(analyzer.analyze, articles, opts)
        return [r.to_dict() for r in results]

    return app
