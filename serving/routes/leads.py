"""/v1/leads: create or update leads (CRM), one lead's detail, explanation and outcomes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.concurrency import run_in_threadpool

from serving.routes.deps import UNAUTHORIZED, CrmOrOfficer, CrmUser, Ctx, Metrics, RequestId
from serving.schemas import ExplanationOut, IngestOut, ItemOut, LeadBatch, OutcomeIn
from serving.service import explain_lead, ingest, lead_detail, record_outcome

router = APIRouter(prefix="/v1/leads", tags=["leads"], responses=UNAUTHORIZED)

LeadIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$", description="lead id")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown lead, or another officer's lead"}
}


@router.post("", response_model=IngestOut)
def post_leads(
    body: LeadBatch, ctx: Ctx, metrics: Metrics, _user: CrmUser, response: Response
) -> Any:
    """Create or update 1-1,000 leads through the data contracts.

    Each item answers accepted (created or updated), duplicate (repeated in the request) or
    rejected with the contract rules it broke. Accepted leads are recomputed and pushed to the
    online store before the answer.
    """
    answer = ingest(ctx, "leads", [lead.model_dump() for lead in body.leads])
    for item in answer.outcome.items:
        metrics.ingested.labels("leads", item.status).inc()
    response.headers["Server-Timing"] = answer.timings.header()
    return answer.to_dict()


@router.get("/{lead_id}", responses={**NOT_FOUND, 200: {"description": "the lead's page data"}})
def get_lead(
    lead_id: LeadIdPath, ctx: Ctx, metrics: Metrics, user: CrmOrOfficer, request_id: RequestId
) -> Any:
    """Contact details, consent and opt-out state, whether each channel may be used now (and
    why not), the current score with reasons, and recent activity."""
    detail = lead_detail(ctx, user, lead_id, request_id=request_id)
    if detail["score"] is not None:
        metrics.scores.labels("lead_detail").inc()
    return detail


@router.get("/{lead_id}/explanation", response_model=ExplanationOut, responses=NOT_FOUND)
async def get_explanation(
    lead_id: LeadIdPath, ctx: Ctx, metrics: Metrics, user: CrmOrOfficer, request_id: RequestId
) -> Any:
    """Every feature's contribution to the lead's score now (SHAP values in log-odds, from
    LightGBM's own TreeSHAP), largest first, with the plain-language reason where it has one."""
    answer = await run_in_threadpool(explain_lead, ctx, user, lead_id, request_id=request_id)
    metrics.scores.labels("explanation").inc()
    return answer


@router.post("/{lead_id}/outcomes", response_model=ItemOut, responses=NOT_FOUND)
def post_outcome(
    lead_id: LeadIdPath, body: OutcomeIn, ctx: Ctx, metrics: Metrics, user: CrmOrOfficer
) -> Any:
    """Record what happened with a lead (a call and its outcome, a text, an opt-out, ...) as an
    event, through the same contracts as /v1/events; give event_id to make retries safe."""
    outcome = body.model_dump(exclude_none=True)
    if body.occurred_at is not None:
        outcome["occurred_at"] = body.occurred_at.isoformat()
    item = record_outcome(ctx, user, lead_id, outcome)
    metrics.ingested.labels("events", item.status).inc()
    return item.to_dict()
