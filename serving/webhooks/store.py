"""Webhook registrations, the outbox (events and their deliveries) and the delivery log, in SQL.

The tables live in the event log's database (serving's MetaData), so an event is written in the
same transaction as the change that caused it: a crash either keeps both or neither. Each event
becomes one delivery per webhook subscribed to its type; deliveries are claimed with a lease
(one UPDATE that only takes rows nobody holds), so several server workers send each once.

The secret is stored as given: signing needs it. No route, command or log shows it again after
it is created; listings show the first 8 hex digits of its SHA-256 so an admin can tell which
one is set. Protect the database as the credential store it is.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from serving.db import metadata


class EventType(StrEnum):
    """What a webhook can subscribe to."""

    LEAD_HOT = "lead.hot"
    TRIGGER_FIRED = "trigger.fired"
    NEW_IN_SPEED_LANE = "lead.new_in_speed_lane"
    OPTED_OUT = "lead.opted_out"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The webhook was removed before the delivery was sent."""


SECRET_PREFIX: Final = "whsec_"
MIN_SECRET_CHARS: Final = 16
MAX_URL_CHARS: Final = 2000
MAX_ERROR_CHARS: Final = 200

webhooks_table = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", String(200), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("description", String(200)),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("deleted_at", DateTime),
)
"""events: the subscribed types, comma-separated. deleted_at: removed (kept for its log)."""

webhook_events_table = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_type", String(32), nullable=False),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("occurred_at", DateTime, nullable=False),
    Column("body", Text, nullable=False),
)
"""body: the exact JSON sent on every attempt (ids, type, time and minimal fields; no PII)."""

webhook_deliveries_table = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(32), nullable=False, index=True),
    Column("event_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_owner", String(80)),
    Column("lease_until", DateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(MAX_ERROR_CHARS)),
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_attempts_table = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(MAX_ERROR_CHARS)),
    Column("duration_ms", Float, nullable=False),
    Column("retry_at", DateTime),
)
"""One row per send: the receiver's status code or the error's kind, and when the next try is."""

webhook_signals_table = Table(
    "webhook_signals",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("signal", String(32), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)
"""A lead's state for events that fire once per crossing (signal 'hot'): an event is sent when
the row turns active, not while it stays so. No row: not active."""


class WebhookInputError(ValueError):
    """A registration value that cannot be used; names the field (answered as 422)."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


class WebhookNotFoundError(LookupError):
    """No webhook (not removed) has this id."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"no webhook '{webhook_id}'; `leadscore webhooks list` shows them")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    aware = _aware(moment)
    return None if aware is None else aware.isoformat()


# -- registration values ---------------------------------------------------------------------


def validate_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it."""
    text = url.strip()
    if not text or len(text) > MAX_URL_CHARS:
        raise WebhookInputError("url", f"give a URL of 1 to {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:
        raise WebhookInputError("url", f"the URL cannot be parsed ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme or "none"
        raise WebhookInputError(
            "url", f"the URL's scheme must be http or https (got {shown}), e.g. https://crm/hooks"
        )
    if not parts.hostname:
        raise WebhookInputError("url", "the URL has no host, e.g. https://crm.example.com/hooks")
    if parts.username is not None or parts.password is not None:
        raise WebhookInputError(
            "url", "put no user or password in the URL: the receiver checks the signature"
        )
    if port == 0:
        raise WebhookInputError("url", "the URL's port must be 1-65535")
    return text


def validate_events(events: Iterable[str] | None) -> tuple[EventType, ...]:
    """The subscribed types (all four when none are named), known and without repeats."""
    if events is None:
        return tuple(EventType)
    chosen = [str(e).strip() for e in events if str(e).strip()]
    if not chosen:
        raise WebhookInputError("events", f"name at least one of {', '.join(EventType)}")
    unknown = [e for e in chosen if e not in EventType._value2member_map_]
    if unknown:
        raise WebhookInputError(
            "events", f"unknown event(s) {', '.join(unknown)}; use {', '.join(EventType)}"
        )
    return tuple(EventType(e) for e in dict.fromkeys(chosen))


def validate_secret(secret: str | None) -> tuple[str, bool]:
    """(the secret, whether it was generated here): an admin's own, or a fresh random one."""
    if secret is None:
        return SECRET_PREFIX + secrets.token_urlsafe(32), True
    if len(secret) < MIN_SECRET_CHARS or len(secret) > 200 or secret != secret.strip():
        raise WebhookInputError(
            "secret",
            f"a secret needs {MIN_SECRET_CHARS}-200 characters and no surrounding spaces; "
            "leave it out to have one generated",
        )
    return secret, False


def secret_fingerprint(secret: str) -> str:
    """The first 8 hex digits of the secret's SHA-256: tells secrets apart, reveals nothing."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


# -- the records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registration (never holds the secret)."""

    id: str
    url: str
    events: tuple[EventType, ...]
    description: str | None
    created_at: datetime
    created_by: str
    secret_sha256_prefix: str
    deleted_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": [str(e) for e in self.events],
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "secret_sha256_prefix": self.secret_sha256_prefix,
            "deleted_at": None if self.deleted_at is None else self.deleted_at.isoformat(),
        }


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=str(row.id),
        url=str(row.url),
        events=tuple(EventType(e) for e in str(row.events).split(",") if e),
        description=row.description,
        created_at=_aware(row.created_at) or datetime.now(UTC),
        created_by=str(row.created_by),
        secret_sha256_prefix=secret_fingerprint(str(row.secret)),
        deleted_at=_aware(row.deleted_at),
    )


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event to send: its id is the Idempotency-Key of every attempt to every webhook."""

    id: str
    type: EventType
    lead_id: str
    occurred_at: datetime
    data: Mapping[str, Any]

    def body(self) -> str:
        """The JSON sent (keys sorted, no spaces): id, type, occurred_at and data."""
        return json.dumps(
            {
                "id": self.id,
                "type": str(self.type),
                "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
                "data": dict(self.data),
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def new_event(
    kind: EventType, lead_id: str, occurred_at: datetime, data: Mapping[str, Any]
) -> WebhookEvent:
    return WebhookEvent(f"evt_{uuid.uuid4().hex}", kind, lead_id, occurred_at, data)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker holds until lease_until: where and what to send."""

    delivery_id: int
    webhook_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: str
    attempts: int
    """Attempts made before this one."""
    lease_owner: str


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One send: the receiver's status code, or the kind of error that stopped it."""

    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# -- the outbox ------------------------------------------------------------------------------


def subscribers(conn: Connection) -> dict[EventType, list[str]]:
    """Webhook ids (not removed) by the event types they subscribe to."""
    w = webhooks_table
    found: dict[EventType, list[str]] = {kind: [] for kind in EventType}
    for webhook_id, events in conn.execute(
        select(w.c.id, w.c.events).where(w.c.deleted_at.is_(None)).order_by(w.c.id)
    ):
        for name in str(events).split(","):
            if name in EventType._value2member_map_:
                found[EventType(name)].append(str(webhook_id))
    return found


def enqueue(
    conn: Connection,
    events: Sequence[WebhookEvent],
    now: datetime,
    subscribed: Mapping[EventType, Sequence[str]] | None = None,
) -> int:
    """Write these events and one pending delivery per subscribed webhook, on the caller's
    connection (inside the transaction of the change that caused them); returns the deliveries.
    An event no webhook subscribes to is not stored."""
    if not events:
        return 0
    targets = subscribers(conn) if subscribed is None else subscribed
    stamp = _naive(now)
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for event in events:
        webhook_ids = targets.get(event.type, ())
        if not webhook_ids:
            continue
        event_rows.append(
            {
                "id": event.id,
                "event_type": str(event.type),
                "lead_id": event.lead_id,
                "occurred_at": _naive(event.occurred_at),
                "body": event.body(),
            }
        )
        delivery_rows += [
            {
                "webhook_id": webhook_id,
                "event_id": event.id,
                "status": str(DeliveryStatus.PENDING),
                "attempts": 0,
                "next_attempt_at": stamp,
                "created_at": stamp,
            }
            for webhook_id in webhook_ids
        ]
    if event_rows:
        conn.execute(webhook_events_table.insert(), event_rows)
        conn.execute(webhook_deliveries_table.insert(), delivery_rows)
    return len(delivery_rows)


class WebhookStore:
    """Registrations, the delivery log and the claims of the outbox on one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- registrations ----------------------------------------------------------------------

    def add(
        self,
        url: str,
        events: Iterable[str] | None = None,
        *,
        secret: str | None = None,
        description: str | None = None,
        created_by: str,
        now: datetime | None = None,
    ) -> tuple[Webhook, str | None]:
        """Register a webhook; returns it and the secret when one was generated (shown once)."""
        checked_url = validate_url(url)
        kinds = validate_events(events)
        chosen, generated = validate_secret(secret)
        if description is not None and len(description) > 200:
            raise WebhookInputError("description", "a description holds at most 200 characters")
        row = {
            "id": f"wh_{secrets.token_hex(8)}",
            "url": checked_url,
            "events": ",".join(str(k) for k in kinds),
            "secret": chosen,
            "description": description,
            "created_at": _naive(now or datetime.now(UTC)),
            "created_by": created_by,
        }
        with self.engine.begin() as conn:
            conn.execute(webhooks_table.insert(), row)
        return self.get(str(row["id"]), include_removed=False), chosen if generated else None

    def get(self, webhook_id: str, *, include_removed: bool = True) -> Webhook:
        w = webhooks_table
        query = select(w).where(w.c.id == webhook_id)
        if not include_removed:
            query = query.where(w.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise WebhookNotFoundError(webhook_id)
        return _webhook(row)

    def listing(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        """Each webhook with its deliveries counted by status (never the secret)."""
        w, d = webhooks_table, webhook_deliveries_table
        query = select(w).order_by(w.c.created_at, w.c.id)
        if not include_removed:
            query = query.where(w.c.deleted_at.is_(None))
        counts_query = select(d.c.webhook_id, d.c.status, func.count()).group_by(
            d.c.webhook_id, d.c.status
        )
        with self.engine.connect() as conn:
            hooks = [_webhook(row) for row in conn.execute(query)]
            counts: dict[str, dict[str, int]] = {}
            for webhook_id, status, count in conn.execute(counts_query):
                counts.setdefault(str(webhook_id), {})[str(status)] = int(count)
        return [
            {
                **hook.to_dict(),
                "deliveries": {
                    str(s): counts.get(hook.id, {}).get(str(s), 0) for s in DeliveryStatus
                },
            }
            for hook in hooks
        ]

    def remove(self, webhook_id: str, *, now: datetime | None = None) -> tuple[Webhook, int]:
        """Remove a webhook: no event is queued for it any more and its pending deliveries are
        cancelled (one being sent at this moment may still arrive). Returns it and how many
        deliveries were cancelled."""
        w, d = webhooks_table, webhook_deliveries_table
        stamp = _naive(now or datetime.now(UTC))
        with self.engine.begin() as conn:
            removed = conn.execute(
                update(w)
                .where(w.c.id == webhook_id, w.c.deleted_at.is_(None))
                .values(deleted_at=stamp)
            ).rowcount
            if not removed:
                raise WebhookNotFoundError(webhook_id)
            cancelled = conn.execute(
                update(d)
                .where(d.c.webhook_id == webhook_id, d.c.status == str(DeliveryStatus.PENDING))
                .values(
                    status=str(DeliveryStatus.CANCELLED),
                    finished_at=stamp,
                    lease_owner=None,
                    lease_until=None,
                )
            ).rowcount
        return self.get(webhook_id), int(cancelled)

    def wants(self, kind: EventType) -> bool:
        """Whether any webhook subscribes to this type now."""
        with self.engine.connect() as conn:
            return bool(subscribers(conn)[kind])

    # -- the delivery log -------------------------------------------------------------------

    def deliveries(
        self, webhook_id: str, *, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The webhook's deliveries, newest first, each with its attempts (removed webhooks
        keep their log)."""
        self.get(webhook_id)
        if status is not None and status not in DeliveryStatus._value2member_map_:
            raise WebhookInputError(
                "status", f"status must be one of {', '.join(DeliveryStatus)}, not '{status}'"
            )
        d, e, a = webhook_deliveries_table, webhook_events_table, webhook_attempts_table
        query = (
            select(d, e.c.event_type, e.c.lead_id, e.c.occurred_at)
            .join(e, e.c.id == d.c.event_id)
            .where(d.c.webhook_id == webhook_id)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(d.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [int(r.id) for r in rows]
            attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            for start in range(0, len(ids), 900):
                for att in conn.execute(
                    select(a)
                    .where(a.c.delivery_id.in_(ids[start : start + 900]))
                    .order_by(a.c.delivery_id, a.c.attempt)
                ):
                    attempts[int(att.delivery_id)].append(
                        {
                            "attempt": int(att.attempt),
                            "at": _iso(att.at),
                            "status_code": att.status_code,
                            "error": att.error,
                            "duration_ms": round(float(att.duration_ms), 1),
                            "retry_at": _iso(att.retry_at),
                        }
                    )
        return [
            {
                "id": int(r.id),
                "event_id": str(r.event_id),
                "event_type": str(r.event_type),
                "lead_id": str(r.lead_id),
                "occurred_at": _iso(r.occurred_at),
                "status": str(r.status),
                "attempts": int(r.attempts),
                "next_attempt_at": (
                    _iso(r.next_attempt_at) if r.status == DeliveryStatus.PENDING else None
                ),
                "last_status_code": r.last_status_code,
                "last_error": r.last_error,
                "created_at": _iso(r.created_at),
                "finished_at": _iso(r.finished_at),
                "attempt_log": attempts[int(r.id)],
            }
            for r in rows
        ]

    # -- claims -----------------------------------------------------------------------------

    def claim(self, worker: str, *, now: datetime, lease_s: float, limit: int) -> list[Claim]:
        """Take up to `limit` due deliveries for this worker until now + lease_s (each claim
        gets a token of its own as the lease's owner).

        One UPDATE takes them, and its WHERE is checked again on each row as it is written: a
        row another worker took in the meantime (its lease in the future) is skipped, so each
        delivery is held by one worker at a time, on PostgreSQL and on SQLite alike.
        """
        w, d, e = webhooks_table, webhook_deliveries_table, webhook_events_table
        owner = f"{worker[:60]}:{uuid.uuid4().hex[:16]}"
        stamp = _naive(now)
        free = or_(d.c.lease_until.is_(None), d.c.lease_until < stamp)
        pending = d.c.status == str(DeliveryStatus.PENDING)
        due = (
            select(d.c.id)
            .join(w, w.c.id == d.c.webhook_id)
            .where(pending, d.c.next_attempt_at <= stamp, free, w.c.deleted_at.is_(None))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(d)
                .where(d.c.id.in_(due.scalar_subquery()), pending, free)
                .values(lease_owner=owner, lease_until=stamp + timedelta(seconds=lease_s))
            )
            rows = conn.execute(
                select(
                    d.c.id,
                    d.c.webhook_id,
                    d.c.event_id,
                    d.c.attempts,
                    w.c.url,
                    w.c.secret,
                    e.c.event_type,
                    e.c.body,
                )
                .join(w, w.c.id == d.c.webhook_id)
                .join(e, e.c.id == d.c.event_id)
                .where(d.c.lease_owner == owner, pending)
                .order_by(d.c.next_attempt_at, d.c.id)
            ).all()
        return [
            Claim(
                delivery_id=int(r.id),
                webhook_id=str(r.webhook_id),
                url=str(r.url),
                secret=str(r.secret),
                event_id=str(r.event_id),
                event_type=str(r.event_type),
                body=str(r.body),
                attempts=int(r.attempts),
                lease_owner=owner,
            )
            for r in rows
        ]

    def release(self, claims: Sequence[Claim]) -> None:
        """Give back claims this worker will not send in time (others may take them now)."""
        d = webhook_deliveries_table
        if not claims:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(d)
                .where(
                    d.c.id.in_([c.delivery_id for c in claims]),
                    d.c.lease_owner == claims[0].lease_owner,
                )
                .values(lease_owner=None, lease_until=None)
            )

    def finish(
        self, claim: Claim, result: AttemptResult, *, now: datetime, retry_at: datetime | None
    ) -> DeliveryStatus:
        """Log the attempt and settle the delivery: delivered, pending again until retry_at,
        or failed (no retry_at). A delivery cancelled or re-claimed meanwhile keeps its state
        (the attempt is logged all the same)."""
        d = webhook_deliveries_table
        stamp = _naive(now)
        status = (
            DeliveryStatus.DELIVERED
            if result.ok
            else DeliveryStatus.PENDING
            if retry_at is not None
            else DeliveryStatus.FAILED
        )
        error = None if result.error is None else result.error[:MAX_ERROR_CHARS]
        retry = None if result.ok or retry_at is None else _naive(retry_at)
        with self.engine.begin() as conn:
            conn.execute(
                webhook_attempts_table.insert(),
                {
                    "delivery_id": claim.delivery_id,
                    "attempt": claim.attempts + 1,
                    "at": stamp,
                    "status_code": result.status_code,
                    "error": error,
                    "duration_ms": result.duration_ms,
                    "retry_at": retry,
                },
            )
            values: dict[str, Any] = {
                "status": str(status),
                "attempts": d.c.attempts + 1,
                "lease_owner": None,
                "lease_until": None,
                "last_status_code": result.status_code,
                "last_error": error,
            }
            if retry is not None:
                values["next_attempt_at"] = retry
            if status is not DeliveryStatus.PENDING:
                values["finished_at"] = stamp
            conn.execute(
                update(d)
                .where(
                    d.c.id == claim.delivery_id,
                    d.c.lease_owner == claim.lease_owner,
                    d.c.status == str(DeliveryStatus.PENDING),
                )
                .values(**values)
            )
        return status
