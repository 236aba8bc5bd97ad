"""/v1/queue: an officer's compliant daily call queue with reasons for the leads shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serving.http import SafeJSONResponse
from serving.routes.deps import UNAUTHORIZED, CrmOrOfficer, Ctx, Metrics, RequestId
from serving.schemas import IsoDate, IsoDateTime, QueueOut
from serving.service import Timings, officer_queue

router = APIRouter(prefix="/v1/queue", tags=["queue"], responses=UNAUTHORIZED)


@router.get(
    "",
    responses={
        200: {"model": QueueOut, "description": "the queue, the leads held back and why"},
        404: {"description": "an officer with no leads, or another officer's queue"},
        503: {"description": "no model loaded"},
    },
)
async def get_queue(
    ctx: Ctx,
    metrics: Metrics,
    user: CrmOrOfficer,
    request_id: RequestId,
    officer: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="officer id; an officer's token may omit it (its own)",
        ),
    ] = None,
    day: Annotated[
        IsoDate | None,
        Query(alias="date", description="work day (YYYY-MM-DD) in the workday time zone"),
    ] = None,
    at: Annotated[
        IsoDateTime | None,
        Query(description="build the queue at this instant (ISO 8601 with offset); default now"),
    ] = None,
) -> Response:
    """Eligibility first (consent, opt-out, do-not-call, local calling hours, FL/OK/MD caps),
    then lanes (new leads oldest first, triggers, the rest by score), cut at the officer's
    capacity left today; each lead shown carries its top reasons.

    `date` and `at`: with `at`, the queue is built at that instant and `date`, if given, must be
    at's day in the workday time zone; with only `date`, today means now and another day means
    noon of that day in the workday time zone; with neither, now. Calls made that day (from its
    midnight in the workday zone until the build instant) use up capacity.
    """
    timings = Timings()
    answer = await run_in_threadpool(
        officer_queue, ctx, user, officer, request_id=request_id, day=day, at=at, timings=timings
    )
    metrics.queues.inc()
    metrics.scores.labels("queue").inc(answer["n_candidates"])
    return SafeJSONResponse(answer, headers={"Server-Timing": timings.header()})
