"""Operations endpoints: /healthz (alive), /readyz (ready to serve, or why not), /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from serving.auth import Role
from serving.context import public_readiness
from serving.http import SafeJSONResponse
from serving.routes.deps import Ctx, MaybeUser, Metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (nothing else is checked)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "not ready; checks name the part"}},
    # anyone may probe; a token (optional) shows an admin the reasons
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
)
async def readyz(ctx: Ctx, user: MaybeUser) -> Response:
    """Ready when a model is loaded and the event log and online store answer.

    Anyone sees each part's name and state ('ok' or 'unavailable'); an admin's bearer token
    also shows why a part is unavailable, the model version and the start-up timings (an
    exception's text can name hosts, paths and versions)."""
    state = await run_in_threadpool(ctx.readiness)
    body = state if user is not None and user.role is Role.ADMIN else public_readiness(state)
    return SafeJSONResponse(body, status_code=200 if state["ready"] else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(registry: Metrics) -> Response:
    """Prometheus metrics: requests, latencies, scores served, the model version."""
    return Response(registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
