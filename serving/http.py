"""HTTP plumbing: request ids, metrics and JSON access logs, error answers without personal data.

Error bodies never echo what the client sent (pydantic's `input` and `ctx` are dropped), and a
bug answers a JSON 500 with the request id while the log keeps only the exception's type and
stack frames: an exception message can hold a value from the request. Logs name the route
template (`/v1/leads/{lead_id}`), never the path: a CRM may put an email where an id belongs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Final

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sql_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.auth import UserExistsError, UserNotFoundError
from serving.metrics import ServingMetrics
from serving.model import ModelLoadError, ModelUnavailableError
from serving.service import (
    LeadNotFoundError,
    NoFeaturesError,
    OfficerNotFoundError,
    ServiceInputError,
)
from serving.webhooks.store import WebhookInputError, WebhookNotFoundError

log = logging.getLogger("leadscore.serving")
access_log = logging.getLogger("leadscore.access")

REQUEST_ID_HEADER: Final = "x-request-id"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _finite(value: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """Compact JSON; a NaN anywhere becomes null instead of a serialization error."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(
                _finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        return text.encode("utf-8")


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return None if value is None else str(value)


def _error(request: Request, status: int, detail: Any, **headers: str) -> SafeJSONResponse:
    return SafeJSONResponse(
        {"detail": detail, "request_id": request_id_of(request)},
        status_code=status,
        headers=headers or None,
    )


def _validation_errors(errors: Any) -> list[dict[str, Any]]:
    """pydantic errors without the client's input (it may be a name, phone or email)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Map request and service errors to 4xx/503 JSON answers."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
        return _error(request, 422, _validation_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> SafeJSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _error(request, exc.status_code, exc.detail, **headers)

    handlers: dict[type[Exception], int] = {
        LeadNotFoundError: 404,
        OfficerNotFoundError: 404,
        UserNotFoundError: 404,
        WebhookNotFoundError: 404,
        NoFeaturesError: 409,
        UserExistsError: 409,
        ModelLoadError: 409,
        ModelUnavailableError: 503,
    }
    for kind, status in handlers.items():
        app.add_exception_handler(kind, _fixed_status(status))

    for kind, part in _dependency_errors().items():
        app.add_exception_handler(kind, _dependency_down(part))

    @app.exception_handler(ServiceInputError)
    async def bad_value(request: Request, exc: ServiceInputError) -> SafeJSONResponse:
        detail = [{"loc": [exc.location, exc.field], "msg": str(exc), "type": "value_error"}]
        return _error(request, 422, detail)

    @app.exception_handler(WebhookInputError)
    async def bad_webhook(request: Request, exc: WebhookInputError) -> SafeJSONResponse:
        location = "query" if exc.field == "status" else "body"
        detail = [{"loc": [location, exc.field], "msg": str(exc), "type": "value_error"}]
        return _error(request, 422, detail)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's,
    and GET and POST /v1/users are two routes): each method is tried against the routes."""
    from starlette.routing import BaseRoute, Match

    routes: list[BaseRoute] = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _fixed_status(status: int) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> SafeJSONResponse:
        return _error(request, status, str(exc))

    return handler


DEPENDENCY_RETRY_AFTER_S: Final = 5


def _dependency_errors() -> dict[type[Exception], str]:
    """Exceptions that mean a store cannot be reached, by the part /readyz names: a request
    that needs it answers 503, not 500 (and nothing is served without it: a queue needs the
    event log's compliance state, so there is no queue rather than an unchecked one)."""
    errors: dict[type[Exception], str] = {
        sql_errors.OperationalError: "event_log",
        sql_errors.InterfaceError: "event_log",
        sql_errors.DisconnectionError: "event_log",
        sql_errors.TimeoutError: "event_log",
    }
    try:
        import redis.exceptions as redis_errors
    except ImportError:  # no Redis client installed: no Redis online store either
        return errors
    errors[redis_errors.ConnectionError] = "feature_store"
    errors[redis_errors.TimeoutError] = "feature_store"
    return errors


_PART_DOWN: Final = {
    "event_log": "the event log (database) cannot be reached",
    "feature_store": "the online feature store cannot be reached",
}


def _dependency_down(part: str) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> SafeJSONResponse:
        # the exception's text names hosts and may quote a statement's values: type only
        log.warning(
            "dependency unavailable",
            extra={
                "request_id": request_id_of(request),
                "part": part,
                "error_type": type(exc).__name__,
                "route": getattr(request.scope.get("route"), "path", None) or "unmatched",
            },
        )
        return _error(
            request,
            503,
            f"{_PART_DOWN[part]}; nothing was served from it, retry later",
            **{"Retry-After": str(DEPENDENCY_RETRY_AFTER_S)},
        )

    return handler


class BodyTooLargeError(HTTPException):
    """The request body grew past the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes; send smaller batches")


def _body_too_large(exc: BaseException) -> BodyTooLargeError | None:
    """The BodyTooLargeError behind exc, also when a task group wrapped it."""
    if isinstance(exc, BodyTooLargeError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _body_too_large(inner)
            if found is not None:
                return found
    cause = exc.__cause__ or exc.__context__
    return _body_too_large(cause) if cause is not None and cause is not exc else None


def _frames(exc: BaseException) -> list[str]:
    """Where an exception was raised, without its message."""
    return [
        f"{frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)[-12:]
    ]


class ServingMiddleware:
    """Pure ASGI: a request id in and out, the body size limit (by Content-Length before the
    body is read, by counting while it streams in), metrics by route template, one JSON access
    log line, and the catch-all that turns a bug into a JSON 500 (logged without messages)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, REQUEST_ID_HEADER)
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        received = 0
        limit = self.max_body_bytes

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def answer(status_code: int, detail: str) -> None:
            body = json.dumps({"detail": detail, "request_id": request_id}).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": status_code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        try:
            declared = _header(scope, "content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await answer(413, str(BodyTooLargeError(limit).detail))
                return
            await self.app(scope, receive_with_limit, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the catch-all: log without messages, answer 500
            too_large = _body_too_large(exc)
            if too_large is not None:
                if not response_started:
                    await answer(413, str(too_large.detail))
                return
            log.error(
                "unhandled error",
                extra={
                    "request_id": request_id,
                    "error_type": type(exc).__name__,
                    "stack": _frames(exc),
                    "route": getattr(scope.get("route"), "path", None) or "unmatched",
                },
            )
            if not response_started:
                await answer(500, "internal error; quote the request id")
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(seconds)
            user = state.get("user")
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "user_id": getattr(user, "id", None),
                    "role": None if user is None else str(user.role),
                },
            )


def _header(scope: Scope, name: str) -> str | None:
    key = name.encode()
    for header, value in scope.get("headers", []):
        if header.lower() == key:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None
