"""POST /v1/analyze, /v1/summarize, /v1/classify, /v1/coverage."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..deps import QueueDep, require_api_key, run_analysis
from ..schemas import (
    AnalyzeRequest,
    AnalyzeResponse,
    ClassifyResponse,
    CoverageRequest,
    CoverageResponse,
    ErrorOut,
    SummarizeResponse,
)

_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 413, 415, 422, 503)}
router = APIRouter(prefix="/v1", tags=["analysis"], dependencies=[Depends(require_api_key)], responses=_ERRORS)

_SUMMARY_KEYS = ("id", "title", "summary")
_CLASSIFY_KEYS = ("id", "title", "label", "confidence", "editorial_probability", "commentary", "sentences")


@router.post("/analyze", response_model=AnalyzeResponse)
async def analyze(req: AnalyzeRequest, request: Request, queue: QueueDep) -> dict:
    """Summary, label and commentary sentences per article: the same object as ``presslens analyze``."""
    out = await run_analysis(request, queue, req.articles, req)
    return {"model": out.model, "results": out.results}


@router.post("/summarize", response_model=SummarizeResponse)
async def summarize(req: AnalyzeRequest, request: Request, queue: QueueDep) -> dict:
    """Only the key-claims summary of each article."""
    out = await run_analysis(request, queue, req.articles, req)
    return {"model": out.model, "results": [{k: r[k] for k in _SUMMARY_KEYS} for r in out.results]}


@router.post("/classify", response_model=ClassifyResponse)
async def classify(req: AnalyzeRequest, request: Request, queue: QueueDep) -> dict:
    """Only the label, its confidence and the per-sentence commentary decisions."""
    out = await run_analysis(request, queue, req.articles, req)
    return {"model": out.model, "results": [{k: r[k] for k in _CLASSIFY_KEYS} for r in out.results]}


@router.post("/coverage", response_model=CoverageResponse)
async def coverage(req: CoverageRequest, request: Request, queue: QueueDep) -> dict:
    """Several articles on one event: each article's verdict and summary, the event summary, the claims
    several outlets share and each outlet's own (``Analyzer.coverage``)."""
    out = await run_analysis(request, queue, req.articles, req, kind="coverage")
    return {"model": out.model, **out.results[0]}
