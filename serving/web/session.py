"""Web sign-in: the bearer token is exchanged once for an HttpOnly, SameSite=Strict cookie, and
every form carries a CSRF token derived from it.

Why the cookie holds the token itself rather than a server-side session id: tokens are already
revocable (`leadscore users revoke`), stored only as hashes, and checked on every request, so a
second session store would add state without adding control. The cookie is HttpOnly (page
scripts cannot read it), SameSite=Strict (no other site can make the browser send it), and
Secure whenever the page is served over HTTPS. The token never appears in a URL.

CSRF: forms carry HMAC-SHA256(token, purpose). Only a holder of the token can compute it, and a
cross-site page can neither read the cookie nor the page that shows the value. The sign-in form,
which has no session yet, uses a double-submit nonce (a random cookie echoed in the form).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from serving.auth import User
from serving.context import ServingContext

SESSION_COOKIE: Final = "leadscore_session"
LOGIN_NONCE_COOKIE: Final = "leadscore_signin"
SESSION_MAX_AGE_S: Final = 12 * 3600
"""A working day and then some: the officer signs in again the next morning."""
LOGIN_NONCE_MAX_AGE_S: Final = 3600
CSRF_PURPOSE: Final = b"leadscore-web-form-v1"


def csrf_for(token: str) -> str:
    """The CSRF value of the session holding this token."""
    return hmac.new(token.encode("utf-8"), CSRF_PURPOSE, hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing value never matches."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def _secure(request: Request) -> bool:
    """Secure cookies over HTTPS (directly, or behind a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def session_user(request: Request, ctx: ServingContext) -> tuple[User, str] | None:
    """The active user of the session cookie and the session's CSRF value, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    user = ctx.users.authenticate(token)
    if user is None:
        return None
    request.state.user = user  # the access log records the user id and role, never the token
    return user, csrf_for(token)


def start_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_NONCE_COOKIE, path="/login")


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        LOGIN_NONCE_COOKIE,
        nonce,
        max_age=LOGIN_NONCE_MAX_AGE_S,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
