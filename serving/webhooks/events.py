"""Which changes become webhook events, written in the transaction of the change itself.

- lead.new_in_speed_lane: a lead the event log did not know, with consent to be called or
  texted (the queue's 'new' lane holds every never-contacted lead it may contact).
- lead.opted_out: an opt_out, consent_revoked or dnc_request event, or a call whose outcome is
  asked_to_stop (each opts the lead out of the channels in `channels`, as serving.lead_state
  reads them).
- trigger.fired: inbound activity (a visit, open, click, reply, question or statement) that
  switches on the queue's inbound trigger: the lead had no inbound action in the trigger's
  window (serving.queue.INBOUND_TRIGGER_WINDOW) before this batch, and has one after it.
- lead.hot: a score in the model's 'hot' tier (probability at least HOT_LIFT times the training
  base rate, models.scorer) for a lead that was not hot at its previous score; it fires again
  only after a score below 'hot'. Every score counts: the CRM's, the lead page's, the queue's,
  and the one ingestion runs on the leads it touched when a lead.hot webhook exists.

Payloads carry ids, the type, times and minimal fields (officer, channel, tier, probability,
the CRM's own event id), never a name, phone, email or free text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from data_contracts.enums import INBOUND_EVENT_TYPES, Channel
from data_contracts.enums import EventType as CrmEvent
from features.event_log import BatchResult, events_table, leads_table
from serving.lead_state import ASKED_TO_STOP
from serving.queue import INBOUND_TRIGGER_WINDOW
from serving.webhooks.store import (
    EventType,
    WebhookEvent,
    enqueue,
    new_event,
    subscribers,
    webhook_signals_table,
)

HOT_TIER: Final = "hot"
HOT_SIGNAL: Final = "hot"
INBOUND_TRIGGER: Final = "inbound_activity"
SQL_IN_CHUNK: Final = 900

_CONTACT_CHANNELS: Final = [str(Channel.CALL), str(Channel.TEXT)]
_INBOUND: Final = sorted(str(k) for k in INBOUND_EVENT_TYPES)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + SQL_IN_CHUNK]) for i in range(0, len(ids), SQL_IN_CHUNK)]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    aware = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return aware.to_pydatetime()


def _officers(conn: Connection, lead_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(lead_ids))):
        query = select(leads_table.c.lead_id, leads_table.c.officer_id).where(
            leads_table.c.lead_id.in_(chunk)
        )
        found.update((str(a), str(b)) for a, b in conn.execute(query))
    return found


# -- ingestion -------------------------------------------------------------------------------


def opt_out_channels(event_type: str, channel: Any, call_outcome: Any) -> list[str] | None:
    """The channels an event opts the lead out of, or None when it is no opt-out."""
    if event_type in (CrmEvent.OPT_OUT, CrmEvent.CONSENT_REVOKED):
        return [str(channel)] if isinstance(channel, str) and channel else []
    if event_type == CrmEvent.DNC_REQUEST or (
        event_type == CrmEvent.CALL and call_outcome == ASKED_TO_STOP
    ):
        return list(_CONTACT_CHANNELS)
    return None


def new_lead_events(
    valid: pd.DataFrame, created: Iterable[str], now: datetime
) -> list[WebhookEvent]:
    """lead.new_in_speed_lane for each new lead that may be called or texted."""
    new = set(created)
    rows = valid.loc[valid["lead_id"].astype(str).isin(new)].drop_duplicates("lead_id", keep="last")
    return [
        new_event(
            EventType.NEW_IN_SPEED_LANE,
            str(row.lead_id),
            now,
            {
                "lead_id": str(row.lead_id),
                "officer_id": str(row.officer_id),
                "lead_created_at": _utc(row.created_at).isoformat(),
                "source": str(row.source),
            },
        )
        for row in rows.itertuples(index=False)
        if bool(row.consent_call) or bool(row.consent_text)
    ]


def opt_out_events(accepted: pd.DataFrame, officers: Mapping[str, str]) -> list[WebhookEvent]:
    """lead.opted_out for each stored opt-out, DNC request, consent revocation or
    asked-to-stop call."""
    events = []
    for row in accepted.itertuples(index=False):
        channels = opt_out_channels(str(row.event_type), row.channel, row.call_outcome)
        if channels is None:
            continue
        reason = ASKED_TO_STOP if row.event_type == CrmEvent.CALL else str(row.event_type)
        occurred = _utc(row.occurred_at)
        events.append(
            new_event(
                EventType.OPTED_OUT,
                str(row.lead_id),
                occurred,
                {
                    "lead_id": str(row.lead_id),
                    "officer_id": officers.get(str(row.lead_id)),
                    "reason": reason,
                    "channels": channels,
                    "crm_event_id": str(row.event_id),
                },
            )
        )
    return events


def inbound_trigger_events(
    conn: Connection, accepted: pd.DataFrame, officers: Mapping[str, str], now: datetime
) -> list[WebhookEvent]:
    """trigger.fired for each lead this batch moved into the inbound trigger: its inbound actions
    in (now - window, now] are all from this batch (the batch is already written, so the
    stored count includes it; equal counts mean nothing before it)."""
    since = now - INBOUND_TRIGGER_WINDOW
    occurred = pd.to_datetime(accepted["occurred_at"], utc=True)
    recent = accepted.loc[
        accepted["event_type"].astype(str).isin(_INBOUND).to_numpy()
        & (occurred > pd.Timestamp(since)).to_numpy()
    ].assign(_at=occurred)
    if recent.empty:
        return []
    in_batch = recent.groupby("lead_id")["event_id"].count()
    e = events_table
    stored: dict[str, int] = {}
    for chunk in _chunks(sorted(in_batch.index.astype(str))):
        query = (
            select(e.c.lead_id, func.count())
            .where(
                e.c.lead_id.in_(chunk),
                e.c.event_type.in_(_INBOUND),
                e.c.occurred_at > _naive(since),
            )
            .group_by(e.c.lead_id)
        )
        stored.update((str(lead), int(n)) for lead, n in conn.execute(query))
    events = []
    for lead_id, batch_count in in_batch.items():
        if stored.get(str(lead_id), 0) > int(batch_count):
            continue  # the trigger was already on: an inbound action before this batch
        first = recent.loc[recent["lead_id"] == lead_id].sort_values(["_at", "event_id"]).iloc[0]
        events.append(
            new_event(
                EventType.TRIGGER_FIRED,
                str(lead_id),
                first["_at"].to_pydatetime(),
                {
                    "lead_id": str(lead_id),
                    "officer_id": officers.get(str(lead_id)),
                    "trigger": INBOUND_TRIGGER,
                    "crm_event_type": str(first["event_type"]),
                    "crm_event_id": str(first["event_id"]),
                },
            )
        )
    return events


class IngestionWebhooks:
    """The event log's BatchObserver for API ingestion: turns the batch's stored rows into
    webhook events and writes them to the outbox in the batch's transaction."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.enqueued = 0
        """Deliveries written (0 when no webhook subscribes to what happened)."""

    def __call__(
        self, conn: Connection, kind: str, valid: pd.DataFrame, result: BatchResult
    ) -> None:
        if not result.stored:
            return
        subscribed = subscribers(conn)
        if not any(subscribed.values()):
            return
        events: list[WebhookEvent] = []
        if kind == "leads":
            if subscribed[EventType.NEW_IN_SPEED_LANE]:
                events = new_lead_events(valid, result.created, self.now)
        else:
            wanted = subscribed[EventType.OPTED_OUT] or subscribed[EventType.TRIGGER_FIRED]
            if not wanted:
                return
            accepted = valid.loc[valid["event_id"].astype(str).isin(set(result.stored))]
            officers = _officers(conn, accepted["lead_id"].astype(str).tolist())
            if subscribed[EventType.OPTED_OUT]:
                events += opt_out_events(accepted, officers)
            if subscribed[EventType.TRIGGER_FIRED]:
                events += inbound_trigger_events(conn, accepted, officers, self.now)
        self.enqueued += enqueue(conn, events, self.now, subscribed)


# -- scores ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreSeen:
    """A score served (or computed after ingestion): what lead.hot needs to know about it."""

    lead_id: str
    officer_id: str | None
    probability: float
    tier: str


def _turn_on(conn: Connection, lead_id: str, stamp: datetime) -> bool:
    """Mark the lead hot; True only for the one transaction that turned it on (a concurrent
    worker's conditional update or insert finds it on already and gets False)."""
    s = webhook_signals_table
    changed = conn.execute(
        update(s)
        .where(s.c.lead_id == lead_id, s.c.signal == HOT_SIGNAL, s.c.active.is_(False))
        .values(active=True, changed_at=stamp)
    ).rowcount
    if changed:
        return True
    row = {"lead_id": lead_id, "signal": HOT_SIGNAL, "active": True, "changed_at": stamp}
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert(s) if dialect == "sqlite" else postgresql_insert(s)
        statement = insert.values(**row).on_conflict_do_nothing(
            index_elements=["lead_id", "signal"]
        )
        return bool(conn.execute(statement).rowcount)
    try:
        with conn.begin_nested():
            conn.execute(s.insert(), row)
    except IntegrityError:
        return False
    return True


def note_scores(
    engine: Engine, scores: Sequence[ScoreSeen], *, model_version: str, now: datetime
) -> int:
    """Record which of these leads are hot now and queue lead.hot for each that just became so;
    returns the deliveries written. Nothing is read or written while no webhook subscribes to
    lead.hot (a lead already hot when one is added fires at its next score)."""
    if not scores:
        return 0
    s = webhook_signals_table
    with engine.connect() as conn:
        if not subscribers(conn)[EventType.LEAD_HOT]:
            return 0
        active: set[str] = set()
        for chunk in _chunks(sorted({x.lead_id for x in scores})):
            active.update(
                str(v)
                for v in conn.execute(
                    select(s.c.lead_id).where(
                        s.c.signal == HOT_SIGNAL, s.c.active.is_(True), s.c.lead_id.in_(chunk)
                    )
                ).scalars()
            )
    latest = {x.lead_id: x for x in scores}
    rising = [x for x in latest.values() if x.tier == HOT_TIER and x.lead_id not in active]
    falling = [i for i, x in latest.items() if x.tier != HOT_TIER and i in active]
    if not rising and not falling:
        return 0
    stamp = _naive(now)
    with engine.begin() as conn:
        won = [x for x in rising if _turn_on(conn, x.lead_id, stamp)]
        for chunk in _chunks(falling):
            conn.execute(
                update(s)
                .where(s.c.signal == HOT_SIGNAL, s.c.active.is_(True), s.c.lead_id.in_(chunk))
                .values(active=False, changed_at=stamp)
            )
        events = [
            new_event(
                EventType.LEAD_HOT,
                x.lead_id,
                now,
                {
                    "lead_id": x.lead_id,
                    "officer_id": x.officer_id,
                    "tier": x.tier,
                    "probability": round(float(x.probability), 6),
                    "model_version": model_version,
                },
            )
            for x in won
        ]
        return enqueue(conn, events, now)
