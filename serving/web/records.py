"""What the pages read from the event log beyond the service's answers (names, last contacts,
the full timeline), and the one-click outcomes they write through the service's ingestion.

Names, phones and statement texts read here go into the page for the lead's own officer only;
nothing here logs them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select

from data_contracts.enums import Channel, EventType
from features.event_log import events_table, leads_table
from serving.auth import User
from serving.context import ServingContext
from serving.ingest import ItemResult
from serving.service import ingest, visible_leads
from serving.web.views import OUTCOMES, TEXT_SENT, LastContact, Person

TIMELINE_EVENTS: Final = 200
"""Events shown on a lead's page, newest first (a lead has 8-12 touches plus its own actions)."""
SQL_IN_CHUNK: Final = 900
EVENT_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
"""A form's event id (suffixes for the opt-out events keep the stored id within 64 chars)."""
OUTBOUND: Final = (str(EventType.CALL), str(EventType.TEXT_SENT), str(EventType.EMAIL_SENT))
STOP_CHANNELS: Final = (Channel.CALL, Channel.TEXT)
"""'Asked to stop' on the phone opts the lead out of calls and texts: the person asked us to
stop contacting their phone (FCC's revoke-all reading of 47 CFR 64.1200(a)(10)); email has its
own unsubscribe (CAN-SPAM)."""


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + SQL_IN_CHUNK] for i in range(0, len(unique), SQL_IN_CHUNK)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def people(ctx: ServingContext, lead_ids: Sequence[str]) -> dict[str, Person]:
    """lead_id -> name and time zone of these leads (the caller has checked who may see them)."""
    found: dict[str, Person] = {}
    columns = (
        leads_table.c.lead_id,
        leads_table.c.first_name,
        leads_table.c.last_name,
        leads_table.c.time_zone,
    )
    with ctx.event_log.engine.connect() as conn:
        for chunk in _chunks(lead_ids):
            for row in conn.execute(select(*columns).where(leads_table.c.lead_id.in_(chunk))):
                found[str(row.lead_id)] = Person(
                    name=f"{row.first_name} {row.last_name}".strip(), time_zone=row.time_zone
                )
    return found


def last_contacts(ctx: ServingContext, lead_ids: Sequence[str]) -> dict[str, LastContact]:
    """lead_id -> our latest call or text (with its outcome) and the lead's touches so far."""
    e = events_table
    latest: dict[str, LastContact] = {}
    touches: dict[str, int] = {}
    with ctx.event_log.engine.connect() as conn:
        for chunk in _chunks(lead_ids):
            counted = (
                select(e.c.lead_id, func.count())
                .where(e.c.lead_id.in_(chunk), e.c.event_type.in_(OUTBOUND))
                .group_by(e.c.lead_id)
            )
            touches.update((str(a), int(b)) for a, b in conn.execute(counted))
            rows = conn.execute(
                select(e.c.lead_id, e.c.event_type, e.c.call_outcome, e.c.occurred_at)
                .where(
                    e.c.lead_id.in_(chunk),
                    e.c.event_type.in_((str(EventType.CALL), str(EventType.TEXT_SENT))),
                )
                .order_by(e.c.occurred_at.desc(), e.c.event_id.desc())
            )
            for row in rows:
                lead_id = str(row.lead_id)
                if lead_id not in latest:
                    latest[lead_id] = LastContact(
                        kind=str(row.event_type),
                        outcome=row.call_outcome,
                        at=_utc(row.occurred_at),
                        touches=0,
                    )
    return {
        lead_id: LastContact(c.kind, c.outcome, c.at, touches.get(lead_id, 0))
        for lead_id, c in latest.items()
    }


def lead_events(ctx: ServingContext, lead_id: str) -> list[dict[str, Any]]:
    """The lead's events, newest first, with what each said (outcome, topic, page, words)."""
    e = events_table
    query = (
        select(
            e.c.event_type,
            e.c.occurred_at,
            e.c.channel,
            e.c.call_outcome,
            e.c.question_topic,
            e.c.page,
            e.c.text,
        )
        .where(e.c.lead_id == lead_id)
        .order_by(e.c.occurred_at.desc(), e.c.event_id.desc())
        .limit(TIMELINE_EVENTS)
    )
    with ctx.event_log.engine.connect() as conn:
        return [
            {**row._mapping, "occurred_at": _utc(row.occurred_at)} for row in conn.execute(query)
        ]


class OutcomeError(ValueError):
    """An outcome the page cannot record; the message is shown to the officer."""


@dataclass(frozen=True)
class RecordedOutcome:
    outcome: str
    items: list[ItemResult]

    @property
    def duplicate(self) -> bool:
        return all(item.status == "duplicate" for item in self.items)


def outcome_events(
    lead_id: str, outcome: str, event_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The events one click stands for: a call with its outcome (or a text sent); 'asked to
    stop' adds an opt-out for calls and for texts."""
    at = now.astimezone(UTC).isoformat()
    base: dict[str, Any] = {
        "lead_id": lead_id,
        "occurred_at": at,
        "channel": None,
        "call_outcome": None,
        "question_topic": None,
        "page": None,
        "text": None,
    }
    if outcome == TEXT_SENT:
        return [{**base, "event_id": event_id, "event_type": "text_sent", "channel": "text"}]
    if outcome not in OUTCOMES:
        raise OutcomeError(f"'{outcome}' is not an outcome; choose one of the buttons")
    events = [
        {
            **base,
            "event_id": event_id,
            "event_type": "call",
            "channel": "call",
            "call_outcome": outcome,
        }
    ]
    if outcome == "asked_to_stop":
        events += [
            {
                **base,
                "event_id": f"{event_id}-stop-{channel}",
                "event_type": "opt_out",
                "channel": str(channel),
            }
            for channel in STOP_CHANNELS
        ]
    return events


def new_event_id() -> str:
    """A fresh id for one outcome form: a double submit of the same form is a duplicate."""
    return f"web-{uuid.uuid4().hex}"


def record_outcome(
    ctx: ServingContext, viewer: User, lead_id: str, outcome: str, event_id: str
) -> RecordedOutcome:
    """Write the outcome's events through the same ingestion as POST /v1/events (contracts,
    event log, online features refreshed before this returns). LeadNotFoundError for a lead
    the officer may not see; OutcomeError when a contract rejects an event."""
    if not EVENT_ID_PATTERN.match(event_id):
        raise OutcomeError("the form is damaged (bad event id); reload the page and try again")
    visible_leads(ctx, viewer, [lead_id])
    records = outcome_events(lead_id, outcome, event_id, datetime.now(UTC))
    answer = ingest(ctx, "events", records)
    rejected = [item for item in answer.outcome.items if item.status == "rejected"]
    if rejected:
        reasons = "; ".join(reason for item in rejected for reason in item.reasons)
        raise OutcomeError(f"the outcome was not recorded: {reasons or 'rejected'}")
    return RecordedOutcome(outcome, list(answer.outcome.items))
