"""POST /v1/feedback: a user's corrected label, stored durably."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from ..deps import check_text_length, require_api_key
from ..errors import ApiError
from ..feedback import FeedbackError, FeedbackRow
from ..schemas import ErrorOut, FeedbackIn, FeedbackOut

router = APIRouter(prefix="/v1", tags=["feedback"], dependencies=[Depends(require_api_key)],
                   responses={code: {"model": ErrorOut} for code in (400, 401, 413, 415, 422, 503)})


@router.post("/feedback", response_model=FeedbackOut, status_code=201)
async def feedback(req: FeedbackIn, request: Request) -> dict:
    """Store a corrected label for an article, or for one sentence (give ``sentence_index``).

    The 201 answer comes after the row is committed to disk.
    """
    check_text_length("text", req.text, request.app.state.settings)
    row = FeedbackRow(**req.model_dump())
    try:
        row_id = await asyncio.to_thread(request.app.state.feedback.add, row)
    except FeedbackError as exc:
        raise ApiError(503, f"feedback not stored: {exc}", "storage_unavailable") from None
    request.app.state.metrics.feedback.labels(row.kind).inc()
    return {"id": row_id, "kind": row.kind, "label": row.label}
