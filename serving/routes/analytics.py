"""/v1/analytics: the team report (speed to lead, follow-up, contact rates, conversion,
applications, revenue, capacity) as JSON, for admins and managers."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from serving.analytics import AnalyticsInputError, build_team_report, report_window
from serving.routes.deps import UNAUTHORIZED, Ctx, TeamViewer
from serving.service import ServiceInputError

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=UNAUTHORIZED)


@router.get("", responses={422: {"description": "a bad since, until or officer (named)"}})
def get_analytics(
    ctx: Ctx,
    _user: TeamViewer,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="90d (the 90 days ending with until's day; the default), a date "
            "(YYYY-MM-DD, from its midnight in the workday time zone) or an ISO date-time "
            "with an offset",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            max_length=40,
            description="a date (that whole day included) or an ISO date-time with an offset; "
            "default now",
        ),
    ] = None,
    officer: Annotated[
        str | None, Query(max_length=64, description="one officer's id; default all officers")
    ] = None,
) -> Any:
    """Every figure of the team page for a window and optionally one officer: counts of leads,
    touches and applications (never lead-days), each rate with its count, denominator, 95%
    interval and a `small` flag under `min_cell`, and `definitions` saying what each means."""
    config = ctx.config
    try:
        window = report_window(since, until, officer, zone=ZoneInfo(config.workday_time_zone))
        report = build_team_report(
            ctx.event_log,
            window,
            default_capacity=config.officer_capacity,
            compensation_bps=config.compensation_bps,
        )
    except AnalyticsInputError as exc:
        raise ServiceInputError(exc.field, str(exc)) from exc
    return report.to_dict()
