"""/v1/events: the CRM's events, one request per batch of up to 1,000, idempotent by event id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from serving.routes.deps import UNAUTHORIZED, CrmUser, Ctx, Metrics
from serving.schemas import EventBatch, IngestOut
from serving.service import ingest

router = APIRouter(prefix="/v1/events", tags=["events"], responses=UNAUTHORIZED)


@router.post("", response_model=IngestOut)
def post_events(
    body: EventBatch, ctx: Ctx, metrics: Metrics, _user: CrmUser, response: Response
) -> Any:
    """Store 1-1,000 events through the data contracts.

    Each item answers accepted, duplicate (its event_id is already stored: re-delivery is
    harmless) or rejected with the contract rules it broke. The leads touched by accepted
    events have fresh online features before the answer, and an opt-out, do-not-call request
    or consent revocation holds for every queue built after it.
    """
    answer = ingest(ctx, "events", [event.model_dump() for event in body.events])
    for item in answer.outcome.items:
        metrics.ingested.labels("events", item.status).inc()
    response.headers["Server-Timing"] = answer.timings.header()
    return answer.to_dict()
