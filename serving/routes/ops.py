"""Operations endpoints: /healthz (alive), /readyz (ready to serve, or why not), /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serving.http import SafeJSONResponse
from serving.routes.deps import Ctx, Metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (nothing else is checked)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready; checks say why"}})
async def readyz(ctx: Ctx) -> Response:
    """Ready when a model is loaded and the event log and online store answer."""
    state = await run_in_threadpool(ctx.readiness)
    return SafeJSONResponse(state, status_code=200 if state["ready"] else 503)


@router.get("/metrics")
async def metrics(registry: Metrics) -> Response:
    """Prometheus metrics: requests, latencies, scores served, the model version."""
    return Response(registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
