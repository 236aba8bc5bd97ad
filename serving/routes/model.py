"""/v1/model: which model is served, and the admin's atomic reload."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from serving.model import ModelLoadError
from serving.routes.deps import UNAUTHORIZED, AdminUser, AnyUser, Ctx, Metrics
from serving.schemas import ModelOut, ReloadIn, ReloadOut

router = APIRouter(prefix="/v1/model", tags=["model"], responses=UNAUTHORIZED)


@router.get("", response_model=ModelOut)
async def get_model(ctx: Ctx, _user: AnyUser) -> Any:
    """The model version being served, where it came from and when it was loaded."""
    current = ctx.model.current
    return {
        "model_version": None if current is None else current.version,
        "source": None if current is None else current.source,
        "loaded_at": None if current is None else current.loaded_at,
        "last_error": ctx.model.last_error,
    }


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses={409: {"description": "the model failed to load; the old one keeps serving"}},
)
async def reload_model(
    ctx: Ctx, metrics: Metrics, _user: AdminUser, body: ReloadIn | None = None
) -> Any:
    """Load the registry's alias (default: the configured one, 'champion') or a version and
    swap it in atomically; a model that fails to load leaves the old one serving (409)."""
    previous = ctx.model.current
    try:
        loaded = await run_in_threadpool(
            ctx.model.load,
            alias=None if body is None else body.alias,
            version=None if body is None else body.version,
        )
    except ModelLoadError as exc:
        metrics.reloads.labels("failed").inc()
        serving = "no model" if previous is None else previous.version
        raise HTTPException(409, f"{exc}; still serving {serving}") from exc
    metrics.reloads.labels("ok").inc()
    metrics.set_model(loaded.version)
    return {
        "model_version": loaded.version,
        "previous_version": None if previous is None else previous.version,
        "source": loaded.source,
    }
