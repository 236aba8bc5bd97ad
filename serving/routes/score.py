"""/v1/score: calibrated probabilities, tiers and SHAP reasons for 1-1,000 leads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from serving.http import SafeJSONResponse
from serving.routes.deps import UNAUTHORIZED, CrmOrOfficer, Ctx, Metrics, RequestId
from serving.schemas import ScoreIn, ScoresOut
from serving.service import Timings, score_leads

router = APIRouter(prefix="/v1/score", tags=["score"], responses=UNAUTHORIZED)

INLINE_ROWS = 4
"""Up to this many leads are scored on the event loop (a few ms); more go to a worker thread."""


@router.post(
    "",
    response_class=SafeJSONResponse,
    responses={
        200: {"model": ScoresOut, "description": "one score per lead, in the order asked"},
        404: {"description": "unknown lead(s) or another officer's"},
        409: {"description": "closed lead(s): no online features"},
        503: {"description": "no model loaded"},
    },
)
async def post_score(
    body: ScoreIn,
    ctx: Ctx,
    metrics: Metrics,
    user: CrmOrOfficer,
    request_id: RequestId,
) -> Any:
    """Probability of applying (calibrated), tier, and the top reasons up and down in plain
    language with their SHAP values (log-odds), scored now with the served model."""
    timings = Timings()
    if len(body.lead_ids) <= INLINE_ROWS:
        answer = score_leads(
            ctx, user, body.lead_ids, request_id=request_id, top_k=body.top_k, timings=timings
        )
    else:
        answer = await run_in_threadpool(
            score_leads,
            ctx,
            user,
            body.lead_ids,
            request_id=request_id,
            top_k=body.top_k,
            timings=timings,
        )
    metrics.scores.labels("score").inc(len(answer["scores"]))
    # No response_model: validating 1,000 scores again would cost more than scoring them.
    return SafeJSONResponse(answer, headers={"Server-Timing": timings.header()})
