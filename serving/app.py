"""The FastAPI app factory: create_app(config) wires the stores, the model, the routes and the
operations endpoints; start-up loads the champion model once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from features.event_log import EventLog
from features.store import LeadFeatureStore
from serving.config import ServingConfig
from serving.context import ServingContext
from serving.http import SafeJSONResponse, ServingMiddleware, install_error_handlers
from serving.metrics import ServingMetrics
from serving.model import ScorerLoader
from serving.ratelimit import RateLimitMiddleware
from serving.routes import admin, analytics, events, leads, model, ops, queue, score, webhooks
from serving.web.router import install_web

API_VERSION: Final = "1"

TAGS: Final = [
    {"name": "leads", "description": "Leads from the CRM; one lead's detail and explanation."},
    {"name": "events", "description": "CRM events, idempotent by event id."},
    {"name": "score", "description": "Calibrated probabilities with SHAP reasons."},
    {"name": "queue", "description": "An officer's compliant daily call queue."},
    {"name": "model", "description": "The served model and its atomic reload."},
    {"name": "admin", "description": "Users (bearer tokens with roles) and the audit trail."},
    {"name": "analytics", "description": "The team report, for admins and managers."},
    {"name": "webhooks", "description": "Signed event deliveries to the CRM and their log."},
    {"name": "operations", "description": "Liveness, readiness and Prometheus metrics."},
]

DESCRIPTION: Final = """
Whom every loan officer should call first today, and why.

Authenticate with `Authorization: Bearer <token>` (tokens come from `leadscore users add`).
Roles: **crm** ingests and scores; **officer** sees its own queue and leads only (another
officer's lead answers 404); **manager** reads the team's analytics for every officer;
**admin** reloads the model, manages users and webhooks, reads the audit and the analytics.
"""


def create_app(
    config: ServingConfig,
    *,
    context: ServingContext | None = None,
    event_log: EventLog | None = None,
    feature_store: LeadFeatureStore | None = None,
    loader: ScorerLoader | None = None,
) -> FastAPI:
    """The API. Stores and the model are opened at start-up (the lifespan), not here; tests may
    hand in a ready context, or an event log, feature store and model loader to use."""
    metrics = ServingMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context
        if ctx is None:
            ctx = ServingContext(
                config, event_log=event_log, feature_store=feature_store, loader=loader
            )
            await run_in_threadpool(ctx.start)
        app.state.ctx = ctx
        ctx.on_model_change = metrics.set_model
        current = ctx.model.current
        metrics.set_model(None if current is None else current.version)
        try:
            yield
        finally:
            if context is None:
                ctx.close()

    app = FastAPI(
        title="leadscore",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.metrics = metrics
    app.state.config = config
    install_error_handlers(app)
    # Starlette runs the last middleware added first: ServingMiddleware gives the 429s their
    # request id, metrics and access log line.
    app.add_middleware(
        RateLimitMiddleware, rate_limit=config.rate_limit, storage_uri=config.rate_limit_storage
    )
    app.add_middleware(ServingMiddleware, metrics=metrics, max_body_bytes=config.max_body_bytes)
    for router in (
        leads.router,
        events.router,
        score.router,
        queue.router,
        model.router,
        admin.router,
        analytics.router,
        webhooks.router,
        ops.router,
    ):
        app.include_router(router)
    install_web(app, config)
    _document_parse_errors(app)
    return app


def _document_parse_errors(app: FastAPI) -> None:
    """Every operation with a body may answer 400 (a body that is not JSON at all: FastAPI's
    own answer, before validation); the generated OpenAPI says so."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if isinstance(operation, dict) and "requestBody" in operation:
                        operation.setdefault("responses", {}).setdefault(
                            "400", {"description": "the body could not be read as JSON"}
                        )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
