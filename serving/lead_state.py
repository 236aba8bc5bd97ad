"""Each lead's compliance and contact state, read from the event log (authoritative, immediate).

Consent, opt-outs, do-not-call and applications decide who may be contacted, so they come from
the event log on every request, never from cached features: an opt-out ingested a moment ago
holds for the very next queue. One grouped SQL query per request keeps this cheap.

Rules (conservative where records disagree):
- opted_out_<channel>: an opt_out on that channel, ever; a dnc_request opts out of call and text
  (and sets dnc), and so does a call whose outcome is asked_to_stop, however it was recorded
  (the officer's page adds the opt_out events itself; a CRM or the outcome route may not). An
  opt-out is final: a later consent_granted does not undo it.
- consent_<channel>: the lead record's consent or a consent_granted event, unless the latest
  consent_revoked on that channel is at or after the latest consent_granted.
- applied: an application_submitted or loan_funded event.
- first_touch_at / last_inbound_at: our first outbound touch, the lead's last inbound action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import String, case, func, select, type_coerce
from sqlalchemy.sql import Select

from data_contracts.enums import INBOUND_EVENT_TYPES, OUTBOUND_EVENT_TYPES, Channel, EventType
from features.event_log import EventLog, events_table, leads_table, market_rates_table

CHANNELS: Final = (Channel.CALL, Channel.TEXT, Channel.EMAIL)
CAPACITY_EVENT_TYPES: Final = (EventType.CALL, EventType.TEXT_SENT)
"""Our contacts that use an officer's capacity and count toward state caps (as call or text)."""
ASKED_TO_STOP: Final = "asked_to_stop"
ANSWERED_CALL_OUTCOMES: Final = ("connected", "appointment_set", "not_interested", "asked_to_stop")
CLOSED_EVENT_TYPES: Final = (EventType.APPLICATION_SUBMITTED, EventType.LOAN_FUNDED)
CAP_WINDOW: Final = timedelta(hours=24)
SQL_IN_CHUNK: Final = 900

LEAD_STATE_COLUMNS: Final = (
    "lead_id",
    "officer_id",
    "created_at",
    "state",
    "time_zone",
    "source",
    "loan_type",
    "loan_amount_usd",
    "quoted_rate_pct",
    "timeline_statement",
    "consent_call",
    "consent_text",
    "consent_email",
)
"""Lead-table columns serving reads; never the names, phone or email."""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps read as text (SQLite) or naive datetimes (PostgreSQL), as aware UTC."""
    parsed = pd.to_datetime(values, format="ISO8601") if len(values) else values.astype("M8[ns]")
    return pd.Series(pd.DatetimeIndex(parsed).tz_localize(UTC), index=values.index)


def _raw(column: Any) -> Any:
    """A timestamp column without SQLAlchemy's per-row conversion (pandas parses it in bulk)."""
    return type_coerce(column, String)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + SQL_IN_CHUNK]) for i in range(0, len(ids), SQL_IN_CHUNK)]


def _scoped(
    query: Select[Any], officer_id: str | None, lead_ids: Sequence[str] | None
) -> list[Select[Any]]:
    """The query limited to an officer's leads or to some lead ids (chunked)."""
    if lead_ids is not None:
        return [query.where(leads_table.c.lead_id.in_(chunk)) for chunk in _chunks(lead_ids)]
    if officer_id is None:
        raise ValueError("give officer_id or lead_ids")
    return [query.where(leads_table.c.officer_id == officer_id)]


def _read(log: EventLog, queries: list[Select[Any]]) -> pd.DataFrame:
    frames = []
    with log.engine.connect() as conn:
        for query in queries:
            frames.append(pd.read_sql(query, conn))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _first(condition: Any, value: Any) -> Any:
    return func.min(case((condition, value)))


def _last(condition: Any, value: Any) -> Any:
    return func.max(case((condition, value)))


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _types(kinds: Sequence[EventType] | frozenset[EventType]) -> list[str]:
    return sorted(str(k) for k in kinds)


def lead_states(
    log: EventLog,
    *,
    at: datetime,
    officer_id: str | None = None,
    lead_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per lead (an officer's, or these ids): profile columns without personal data,
    effective consents, opt-outs, dnc, applied, first_touch_at, last_inbound_at (UTC),
    texts_replied and calls_connected, from events up to at.

    The database does the work: one grouped row per lead (conditional aggregates), so the cost
    is one index scan of the officer's events, not their transfer."""
    lead_columns = [
        _raw(leads_table.c[c]).label(c) if c == "created_at" else leads_table.c[c]
        for c in LEAD_STATE_COLUMNS
    ]
    lead_query = select(*lead_columns).order_by(leads_table.c.lead_id)
    leads = _read(log, _scoped(lead_query, officer_id, lead_ids))
    leads["created_at"] = _utc(leads["created_at"])
    for ch in CHANNELS:
        leads[f"consent_{ch}"] = leads[f"consent_{ch}"].astype(bool)

    e = events_table
    kind, channel = e.c.event_type, e.c.channel
    moment = _raw(e.c.occurred_at)
    columns = [
        e.c.lead_id,
        _count(kind == str(EventType.DNC_REQUEST)).label("n_dnc"),
        _count((kind == str(EventType.CALL)) & (e.c.call_outcome == ASKED_TO_STOP)).label(
            "n_asked_to_stop"
        ),
        _count(kind.in_(_types(CLOSED_EVENT_TYPES))).label("n_closed"),
        _first(kind.in_(_types(OUTBOUND_EVENT_TYPES)), moment).label("first_touch_at"),
        _last(kind.in_(_types(INBOUND_EVENT_TYPES)), moment).label("last_inbound_at"),
        _count(kind == str(EventType.TEXT_REPLIED)).label("texts_replied"),
        _count((kind == str(EventType.CALL)) & e.c.call_outcome.in_(ANSWERED_CALL_OUTCOMES)).label(
            "calls_connected"
        ),
    ]
    for ch in CHANNELS:
        on = channel == str(ch)
        columns += [
            _count((kind == str(EventType.OPT_OUT)) & on).label(f"n_opt_out_{ch}"),
            _last((kind == str(EventType.CONSENT_GRANTED)) & on, moment).label(f"granted_{ch}"),
            _last((kind == str(EventType.CONSENT_REVOKED)) & on, moment).label(f"revoked_{ch}"),
        ]
    event_query = (
        select(*columns)
        .select_from(e.join(leads_table, leads_table.c.lead_id == e.c.lead_id))
        .where(e.c.occurred_at <= _naive(at))
        .group_by(e.c.lead_id)
    )
    per_lead = _read(log, _scoped(event_query, officer_id, lead_ids))
    return _states(leads, per_lead)


def _states(leads: pd.DataFrame, per_lead: pd.DataFrame) -> pd.DataFrame:
    found = per_lead.set_index("lead_id").reindex(leads["lead_id"])
    found.index = leads.index

    def count(column: str) -> np.ndarray:
        return pd.to_numeric(found[column]).fillna(0).to_numpy(dtype=np.int64)

    out = leads.copy()
    dnc = count("n_dnc") > 0
    out["dnc"] = dnc
    stopped = dnc | (count("n_asked_to_stop") > 0)
    out["applied"] = count("n_closed") > 0
    for ch in CHANNELS:
        opted = count(f"n_opt_out_{ch}") > 0
        out[f"opted_out_{ch}"] = opted | stopped if ch in (Channel.CALL, Channel.TEXT) else opted
        granted, revoked = _utc(found[f"granted_{ch}"]), _utc(found[f"revoked_{ch}"])
        revoked_last = revoked.notna() & (granted.isna() | (revoked >= granted))
        out[f"consent_{ch}"] = (
            leads[f"consent_{ch}"].to_numpy(dtype=bool) | granted.notna().to_numpy()
        ) & ~revoked_last.to_numpy()
    out["first_touch_at"] = _utc(found["first_touch_at"])
    out["last_inbound_at"] = _utc(found["last_inbound_at"])
    out["texts_replied"] = count("texts_replied")
    out["calls_connected"] = count("calls_connected")
    return out


def open_mask(states: pd.DataFrame) -> np.ndarray:
    """Leads still in follow-up: not applied and not opted out of every channel."""
    opted_everywhere = np.ones(len(states), dtype=bool)
    for ch in CHANNELS:
        opted_everywhere &= states[f"opted_out_{ch}"].to_numpy(dtype=bool)
    return ~states["applied"].to_numpy(dtype=bool) & ~opted_everywhere


@dataclass(frozen=True)
class RecentContacts:
    """Our calls and texts before at: those in the last 24 h (state caps) and today's count."""

    contacts: pd.DataFrame
    made_today: int


def recent_contacts(
    log: EventLog,
    *,
    at: datetime,
    day_start: datetime,
    officer_id: str | None = None,
    lead_ids: Sequence[str] | None = None,
) -> RecentContacts:
    """Contacts (lead_id, occurred_at UTC, channel) within 24 h before at, for the caps, and how
    many contacts were made from day_start to at (the officer's capacity used today)."""
    since = min(at - CAP_WINDOW, day_start)
    e = events_table
    query = (
        select(e.c.lead_id, e.c.occurred_at, e.c.event_type)
        .select_from(e.join(leads_table, leads_table.c.lead_id == e.c.lead_id))
        .where(
            e.c.occurred_at > _naive(since),
            e.c.occurred_at <= _naive(at),
            e.c.event_type.in_([str(t) for t in CAPACITY_EVENT_TYPES]),
        )
    )
    rows = _read(log, _scoped(query, officer_id, lead_ids))
    occurred = _utc(rows["occurred_at"])
    channel = np.where(
        rows["event_type"] == str(EventType.CALL), str(Channel.CALL), str(Channel.TEXT)
    )
    contacts = pd.DataFrame(
        {"lead_id": rows["lead_id"].astype(str), "occurred_at": occurred, "channel": channel}
    )
    in_cap = (occurred > pd.Timestamp(at - CAP_WINDOW)).to_numpy(dtype=bool)
    today = (occurred >= pd.Timestamp(day_start)).to_numpy(dtype=bool)
    return RecentContacts(
        contacts=contacts.loc[in_cap].reset_index(drop=True), made_today=int(today.sum())
    )


def market_rate_pct(log: EventLog, at: datetime) -> float | None:
    """The latest 30-year market rate dated on or before at's UTC date."""
    day = at.astimezone(UTC).date().isoformat()
    query = (
        select(market_rates_table.c.rate_30y_pct)
        .where(market_rates_table.c.date <= day)
        .order_by(market_rates_table.c.date.desc())
        .limit(1)
    )
    with log.engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    return None if value is None else float(value)


@lru_cache(maxsize=200_000)
def _stated(statement: str, stated_at: datetime) -> tuple[float, float] | None:
    from features.timeline import parse_timeline

    parsed = parse_timeline(statement, stated_at)
    if parsed.months_to_ready is None or parsed.ready_at is None:
        return None
    return parsed.months_to_ready, parsed.ready_at.timestamp()


def stated_timeline_months(states: pd.DataFrame, ready_at_epoch_s: np.ndarray) -> np.ndarray:
    """Months the lead said at creation, where that statement still sets the ready date (a later
    statement replaces it: then only the ready date is known); NaN otherwise."""
    out = np.full(len(states), np.nan)
    statements = states["timeline_statement"].to_numpy(dtype=object)
    created = states["created_at"].to_numpy(dtype=object)
    for i, (statement, stated_at) in enumerate(zip(statements, created, strict=True)):
        if not isinstance(statement, str) or not statement.strip() or np.isnan(ready_at_epoch_s[i]):
            continue
        parsed = _stated(statement, pd.Timestamp(stated_at).to_pydatetime())
        if parsed is not None and abs(parsed[1] - ready_at_epoch_s[i]) < 1.0:
            out[i] = parsed[0]
    return out
