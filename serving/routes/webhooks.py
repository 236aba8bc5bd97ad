"""/v1/webhooks: the admin registers CRM endpoints for events and reads their delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from serving.routes.deps import UNAUTHORIZED, AdminUser, Ctx
from serving.schemas import (
    DeliveryOut,
    NewWebhookOut,
    RemovedWebhookOut,
    WebhookIn,
    WebhookOut,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=UNAUTHORIZED)

WebhookIdPath = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$", description="webhook id")
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such webhook"}}


@router.post("", response_model=NewWebhookOut, status_code=201)
def add_webhook(body: WebhookIn, ctx: Ctx, user: AdminUser) -> Any:
    """Register a URL for events; deliveries are signed with the secret (HMAC-SHA256). A
    generated secret is in this answer only; a secret you give is never shown back."""
    webhook, secret = ctx.webhooks.add(
        body.url,
        body.events,
        secret=body.secret,
        description=body.description,
        created_by=user.name,
    )
    return {"webhook": webhook.to_dict(), "secret": secret}


@router.get("", response_model=list[WebhookOut])
def list_webhooks(ctx: Ctx, _user: AdminUser) -> Any:
    """Registered webhooks with their deliveries counted by status (never a secret)."""
    return ctx.webhooks.listing()


@router.delete("/{webhook_id}", response_model=RemovedWebhookOut, responses=NOT_FOUND)
def remove_webhook(webhook_id: WebhookIdPath, ctx: Ctx, _user: AdminUser) -> Any:
    """Stop sending to this webhook: no new events, pending deliveries cancelled (the log
    stays readable)."""
    webhook, cancelled = ctx.webhooks.remove(webhook_id)
    return {"webhook": webhook.to_dict(), "cancelled_deliveries": cancelled}


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut], responses=NOT_FOUND)
def list_deliveries(
    webhook_id: WebhookIdPath,
    ctx: Ctx,
    _user: AdminUser,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The delivery log, newest first: each delivery's event, status, attempts (time, status
    code or error, duration, when the next try is)."""
    return ctx.webhooks.deliveries(webhook_id, status=status, limit=limit)
