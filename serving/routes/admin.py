"""/v1/users and /v1/audit: the admin's user management and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from serving.auth import UserError, UserExistsError, UserNotFoundError
from serving.routes.deps import UNAUTHORIZED, AdminUser, Ctx
from serving.schemas import IsoDateTime, NewUserOut, UserIn, UserOut
from serving.service import ServiceInputError

router = APIRouter(prefix="/v1", tags=["admin"], responses=UNAUTHORIZED)


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Ctx, _user: AdminUser) -> Any:
    """Every user, active and revoked (never a token or its hash)."""
    return [u.to_dict() for u in ctx.users.list()]


@router.post(
    "/users",
    response_model=NewUserOut,
    status_code=201,
    responses={409: {"description": "a user of that name exists"}},
)
def add_user(body: UserIn, ctx: Ctx, _user: AdminUser) -> Any:
    """Create a user; its token is in this answer only (only a hash is stored)."""
    try:
        expires_at = (
            None
            if body.expires_in_days is None
            else datetime.now(UTC) + timedelta(days=body.expires_in_days)
        )
        user, token = ctx.users.add(
            body.name, body.role, officer_id=body.officer_id, expires_at=expires_at
        )
    except (UserExistsError, UserNotFoundError):
        raise
    except UserError as exc:
        field = "officer_id" if "officer" in str(exc) else "name"
        raise ServiceInputError(field, str(exc), location="body") from exc
    return {"user": user.to_dict(), "token": token}


@router.delete(
    "/users/{name}", response_model=UserOut, responses={404: {"description": "no such user"}}
)
def revoke_user(
    name: Annotated[str, Path(min_length=1, max_length=100)], ctx: Ctx, _user: AdminUser
) -> Any:
    """Revoke a user's token: its next request answers 401."""
    return ctx.users.revoke(name).to_dict()


@router.get("/audit")
def read_audit(
    ctx: Ctx,
    _user: AdminUser,
    lead_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Annotated[IsoDateTime | None, Query(description="ISO 8601 with offset")] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Any:
    """Audit rows, newest first: who asked, when, which lead, model version, rank, reasons and
    the compliance decision."""
    if since is not None and since.tzinfo is None:
        raise ServiceInputError("since", "since needs a time zone offset, e.g. ...T00:00:00Z")
    return ctx.audit.read(lead_id=lead_id, since=since, action=action, limit=limit)
