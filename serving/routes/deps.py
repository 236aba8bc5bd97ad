"""Typed dependencies: the serving context, the authenticated user, the roles a route allows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import exc as sql_errors

from serving.auth import Role, User
from serving.context import ServingContext
from serving.http import request_id_of
from serving.metrics import ServingMetrics

log = logging.getLogger("leadscore.serving")

bearer = HTTPBearer(auto_error=False, description="a token from `leadscore users add`")

UNAUTHORIZED: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "missing, invalid or revoked bearer token"},
    403: {"description": "the token's role may not use this route"},
}


def get_context(request: Request) -> ServingContext:
    context: ServingContext = request.app.state.ctx
    return context


def get_metrics(request: Request) -> ServingMetrics:
    metrics: ServingMetrics = request.app.state.metrics
    return metrics


def get_request_id(request: Request) -> str:
    return request_id_of(request) or "none"


Ctx = Annotated[ServingContext, Depends(get_context)]
Metrics = Annotated[ServingMetrics, Depends(get_metrics)]
RequestId = Annotated[str, Depends(get_request_id)]


def current_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The active user holding the bearer token, else 401."""
    if credentials is None:
        raise HTTPException(
            401,
            "missing bearer token; send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = ctx.users.authenticate(credentials.credentials)
    if user is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user
    return user


def optional_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The active user holding the bearer token, or None (no token, or one that is not valid):
    for routes anyone may call whose answer says more to some roles. When the users table
    cannot be read (the event log is down) the caller is anonymous: /readyz still answers."""
    if credentials is None:
        return None
    try:
        user = ctx.users.authenticate(credentials.credentials)
    except (sql_errors.OperationalError, sql_errors.InterfaceError, sql_errors.TimeoutError):
        log.warning("token not checked: the users table cannot be read")
        return None
    if user is not None:
        request.state.user = user
    return user


def allow(*roles: Role) -> Callable[[User], User]:
    """A dependency that lets only these roles through (403 for the others)."""
    allowed = frozenset(roles)

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise HTTPException(
                403,
                f"role '{user.role}' may not use this route; it needs "
                f"{' or '.join(sorted(str(r) for r in allowed))}",
            )
        return user

    return dependency


AnyUser = Annotated[User, Depends(current_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]
CrmUser = Annotated[User, Depends(allow(Role.CRM))]
CrmOrOfficer = Annotated[User, Depends(allow(Role.CRM, Role.OFFICER))]
AdminUser = Annotated[User, Depends(allow(Role.ADMIN))]
TeamViewer = Annotated[User, Depends(allow(Role.ADMIN, Role.MANAGER))]
"""Who sees the team's analytics: admins and managers."""
