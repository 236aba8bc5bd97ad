"""Sending the outbox: HMAC-SHA256 signatures, retries with exponential backoff and jitter, and
the background worker of a serving process.

Each attempt is a POST of the event's JSON body with these headers (README, Webhooks):

- Leadscore-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + body, keyed by the secret>
- Leadscore-Timestamp: the attempt's Unix time in seconds (signed, so a receiver can refuse
  old replays)
- Idempotency-Key: the event id, the same on every attempt (receivers dedupe on it)
- Leadscore-Event: the event type; Leadscore-Attempt: 1, 2, ...

A 2xx answer delivers; anything else (a redirect too: the signature is for this URL), a timeout
or a connection error is retried after a wait that doubles each time, drawn between half and
all of it, until the maximum number of attempts, and then the delivery is marked failed.
Logs name the webhook, delivery, event type, attempt and status code: never the URL, the body
or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx

from serving.config import WebhookConfig
from serving.webhooks.store import AttemptResult, Claim, DeliveryStatus, WebhookStore

log = logging.getLogger("leadscore.webhooks")

SIGNATURE_HEADER: Final = "Leadscore-Signature"
TIMESTAMP_HEADER: Final = "Leadscore-Timestamp"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
EVENT_HEADER: Final = "Leadscore-Event"
ATTEMPT_HEADER: Final = "Leadscore-Attempt"
SIGNATURE_VERSION: Final = "v1"
USER_AGENT: Final = "leadscore-webhooks/1"
OUTAGE_WAIT_S: Final = 10.0
"""After a pass that failed (the database unreachable), the worker waits this long."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """'v1=' + the hex HMAC-SHA256 of b'<timestamp>.' + body, keyed by the secret (UTF-8)."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def retry_delay_s(failures: int, *, base_s: float, max_s: float, rng: random.Random) -> float:
    """The wait after this many failed attempts: base_s x 2^(failures - 1), capped at max_s,
    drawn uniformly between half and all of it. Waits grow with failures (each is at least the
    whole of the one before it), and the jitter keeps receivers that failed together from being
    retried together."""
    ceiling = min(max_s, base_s * 2.0 ** max(0, failures - 1))
    return ceiling / 2.0 + rng.uniform(0.0, ceiling / 2.0)


def _error_kind(exc: httpx.HTTPError) -> str:
    """The error's kind in words, never its message (which holds the URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one delivery pass did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
        }

    def __add__(self, other: PassResult) -> PassResult:
        return PassResult(
            self.claimed + other.claimed,
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookDeliverer:
    """Claims due deliveries, sends them and settles each (delivered, retry later, failed).

    clock and rng are injectable so tests can walk through the backoff without waiting.
    """

    def __init__(
        self,
        store: WebhookStore,
        config: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if config.max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, got {config.max_attempts}")
        if config.lease_s <= config.timeout_s:
            raise ValueError(
                f"the lease ({config.lease_s} s) must outlast an attempt ({config.timeout_s} s), "
                "or a slow receiver's delivery is claimed twice"
            )
        self.store = store
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=config.timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._name = f"{socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def deliver_due(self) -> PassResult:
        """One pass: claim up to batch_size due deliveries and attempt each once. Claims that
        could not be sent before their lease might lapse (slow receivers) are given back."""
        claimed_at = self.clock()
        claims = self.store.claim(
            self._name, now=claimed_at, lease_s=self.config.lease_s, limit=self.config.batch_size
        )
        last_start = claimed_at + timedelta(seconds=self.config.lease_s - self.config.timeout_s)
        counts = dict.fromkeys(DeliveryStatus, 0)
        for position, claim in enumerate(claims):
            if self.clock() > last_start:
                self.store.release(claims[position:])
                claims = claims[:position]
                break
            counts[self._attempt(claim)] += 1
        return PassResult(
            claimed=len(claims),
            delivered=counts[DeliveryStatus.DELIVERED],
            retrying=counts[DeliveryStatus.PENDING],
            failed=counts[DeliveryStatus.FAILED],
        )

    def _attempt(self, claim: Claim) -> DeliveryStatus:
        attempt = claim.attempts + 1
        result = self.send(claim, attempt)
        now = self.clock()
        retry_at = None
        if not result.ok and attempt < self.config.max_attempts:
            delay = retry_delay_s(
                attempt,
                base_s=self.config.backoff_base_s,
                max_s=self.config.backoff_max_s,
                rng=self.rng,
            )
            retry_at = now + timedelta(seconds=delay)
        status = self.store.finish(claim, result, now=now, retry_at=retry_at)
        fields = {
            "webhook_id": claim.webhook_id,
            "delivery_id": claim.delivery_id,
            "event_type": claim.event_type,
            "attempt": attempt,
            "status_code": result.status_code,
            "error": result.error,
            "duration_ms": round(result.duration_ms, 1),
        }
        if status is DeliveryStatus.DELIVERED:
            log.info("webhook delivered", extra=fields)
        elif status is DeliveryStatus.PENDING:
            log.warning("webhook attempt failed; will retry", extra=fields)
        else:
            log.warning("webhook delivery failed for good", extra={**fields, "final": True})
        return status

    def send(self, claim: Claim, attempt: int) -> AttemptResult:
        """POST the body once, signed now; the answer's body is never read."""
        body = claim.body.encode("utf-8")
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(claim.secret, timestamp, body),
            TIMESTAMP_HEADER: str(timestamp),
            IDEMPOTENCY_HEADER: claim.event_id,
            EVENT_HEADER: claim.event_type,
            ATTEMPT_HEADER: str(attempt),
        }
        started = time.perf_counter()
        try:
            with self.client.stream("POST", claim.url, content=body, headers=headers) as answer:
                code: int | None = answer.status_code
            error = None if code is not None and 200 <= code < 300 else f"HTTP {code}"
        except httpx.HTTPError as exc:
            code, error = None, _error_kind(exc)
        return AttemptResult(code, error, (time.perf_counter() - started) * 1000.0)

    def run(self, stopping: threading.Event, wake: threading.Event) -> None:
        """The background loop: a pass, then wait for `wake` (set when this process queued an
        event) or poll_s, until `stopping` is set. A failed pass (the database down) is logged
        and tried again after OUTAGE_WAIT_S (one warning each time, not one a poll)."""
        while not stopping.is_set():
            wake.clear()
            try:
                result = self.deliver_due()
            except Exception:  # noqa: BLE001 - the loop must outlive a store outage
                log.warning("webhook delivery pass failed", exc_info=True)
                stopping.wait(max(OUTAGE_WAIT_S, self.config.poll_s))
                continue
            if result.claimed < self.config.batch_size:
                wake.wait(self.config.poll_s)
