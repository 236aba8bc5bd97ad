"""Per-token rate limits: the `limits` library's sliding-window counters, kept in memory for one
process or in Redis so that every worker of `leadscore serve --workers N` counts against the
same budget.

The key is the credential a request presents (its bearer token or the page's session cookie),
hashed: a token never reaches the counter store, and the limit holds before the token is looked
up, so a flood costs no database reads. A request without a credential counts against its
client address. Health, readiness and metrics are not limited: probes and scrapers call them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from typing import Final
from urllib.parse import quote

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.web.session import SESSION_COOKIE

log = logging.getLogger("leadscore.serving")

UNLIMITED_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
KEY_PREFIX: Final = "leadscore:ratelimit"
STORAGE_WARNING_EVERY_S: Final = 60.0
REDIS_TIMEOUT_S: Final = 0.5
"""A counter store that does not answer in this long lets the request pass (fail open)."""


class RateLimitConfigError(ValueError):
    """The rate limit or its storage cannot be used as written; the message says what to do."""


def parse_rate_limit(text: str) -> list[RateLimitItem]:
    """'100/second;3000/minute' -> the limits; 'off' or '' -> none."""
    if text.strip().lower() in ("", "off"):
        return []
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise RateLimitConfigError(
            f"rate limit '{text}' is not in the form '100/second' or '100/second;3000/minute' "
            "(units: second, minute, hour, day), or 'off'"
        ) from exc


def redis_storage_uri(connection: str) -> str:
    """A redis:// URI from a Feast Redis connection string ('host:port,db=1,password=x,ssl=true'),
    so the counters live in the online store's Redis when nothing else is said."""
    address, *options = [part.strip() for part in connection.split(",")]
    settings = dict(option.split("=", 1) for option in options if "=" in option)
    scheme = "rediss" if settings.get("ssl", "").lower() == "true" else "redis"
    password = settings.get("password")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"{scheme}://{auth}{address}/{settings.get('db', '0')}"


def _storage(uri: str) -> Storage:
    scheme = uri.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStorage()
    if scheme in ("redis", "rediss"):
        return RedisStorage(
            f"async+{uri}",
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
    raise RateLimitConfigError(
        f"rate limit storage must be memory:// or a redis:// URL, not a '{scheme}' URL"
    )


def limit_key(scope: Scope) -> str:
    """Whose budget a request spends: its credential's hash, else its client address."""
    connection = HTTPConnection(scope)
    authorization = connection.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    credential = token.strip() if scheme.lower() == "bearer" else ""
    credential = credential or connection.cookies.get(SESSION_COOKIE, "")
    if credential:
        return "token:" + hashlib.sha256(credential.encode("utf-8")).hexdigest()[:32]
    client = connection.client
    return f"client:{client.host if client else 'unknown'}"


class RateLimitMiddleware:
    """Pure ASGI: spends one unit of each limit per request and answers 429 with Retry-After
    (seconds until the exhausted window frees a unit) once a limit is used up.

    When the counter store cannot be reached the request passes: a Redis outage must not take
    the API down with it (a warning is logged, at most once a minute)."""

    def __init__(self, app: ASGIApp, rate_limit: str, storage_uri: str = "memory://") -> None:
        self.app = app
        self.items = parse_rate_limit(rate_limit)
        self.limiter = SlidingWindowCounterRateLimiter(_storage(storage_uri))
        self._warned_at = -math.inf

    async def retry_after(self, key: str) -> tuple[RateLimitItem, int] | None:
        """The exhausted limit and the seconds to wait, or None when the request may pass."""
        for item in self.items:
            if not await self.limiter.hit(item, key):
                stats = await self.limiter.get_window_stats(item, key)
                return item, max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.items or scope.get("path") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            refused = await self.retry_after(limit_key(scope))
        except Exception as exc:  # noqa: BLE001 - fail open: the limit protects, it must not break
            self._warn(exc)
            refused = None
        if refused is None:
            await self.app(scope, receive, send)
            return
        item, seconds = refused
        request_id = scope.get("state", {}).get("request_id")
        detail = f"rate limit of {item} reached for this token; retry after {seconds} s"
        body = json.dumps({"detail": detail, "request_id": request_id}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(seconds).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= STORAGE_WARNING_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limit storage unreachable; requests pass unlimited",
                extra={"error_type": type(exc).__name__},
            )
