"""Each lead's compliance and contact state, read from the event log (authoritative, immediate).

Consent, opt-outs, do-not-call and applications decide who may be contacted, so they come from
the event log on every request, never from cached features: an opt-out ingested a moment ago
holds for the very next queue. One grouped SQL query per request keeps this cheap.

Rules (conservative where records disagree):
- opted_out_<channel>: an opt_out on that channel, ever; a dnc_request opts out of call and text
  (and sets dnc). An opt-out is final: a later consent_granted does not undo it.
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
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from data_contracts.enums import INBOUND_EVENT_TYPES, OUTBOUND_EVENT_TYPES, Channel, EventType
from features.event_log import EventLog, events_table, leads_table, market_rates_table

CHANNELS: Final = (Channel.CALL, Channel.TEXT, Channel.EMAIL)
CAPACITY_EVENT_TYPES: Final = (EventType.CALL, EventType.TEXT_SENT)
"""Our contacts that use an officer's capacity and count toward state caps (as call or text)."""
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
    return pd.Series(pd.to_datetime(values).dt.tz_localize(UTC), index=values.index)


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


def lead_states(
    log: EventLog,
    *,
    at: datetime,
    officer_id: str | None = None,
    lead_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per lead (an officer's, or these ids): profile columns without personal data,
    effective consents, opt-outs, dnc, applied, first_touch_at, last_inbound_at (UTC),
    texts_replied and calls_connected, from events up to at."""
    lead_query = select(*[leads_table.c[c] for c in LEAD_STATE_COLUMNS]).order_by(
        leads_table.c.lead_id
    )
    leads = _read(log, _scoped(lead_query, officer_id, lead_ids))
    leads["created_at"] = _utc(leads["created_at"])
    e = events_table
    event_query = (
        select(
            e.c.lead_id,
            e.c.event_type,
            e.c.channel,
            e.c.call_outcome,
            func.min(e.c.occurred_at).label("first_at"),
            func.max(e.c.occurred_at).label("last_at"),
            func.count().label("n"),
        )
        .select_from(e.join(leads_table, leads_table.c.lead_id == e.c.lead_id))
        .where(e.c.occurred_at <= _naive(at), e.c.event_type != str(EventType.LEAD_CREATED))
        .group_by(e.c.lead_id, e.c.event_type, e.c.channel, e.c.call_outcome)
    )
    groups = _read(log, _scoped(event_query, officer_id, lead_ids))
    return _states(leads, groups)


def _states(leads: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    groups = groups.assign(first_at=_utc(groups["first_at"]), last_at=_utc(groups["last_at"]))
    index = pd.Index(leads["lead_id"])
    kind = groups["event_type"].astype(str)
    channel = groups["channel"].astype(object)

    def any_of(mask: pd.Series) -> np.ndarray:
        hit = set(groups.loc[mask, "lead_id"])
        return np.fromiter((i in hit for i in index), dtype=bool, count=len(index))

    def moment(mask: pd.Series, how: str) -> pd.Series:
        column = "first_at" if how == "min" else "last_at"
        picked = groups.loc[mask].groupby("lead_id")[column].agg(how)
        return pd.Series(picked.reindex(index).array, index=leads.index)

    def total(mask: pd.Series) -> np.ndarray:
        picked = groups.loc[mask].groupby("lead_id")["n"].sum()
        return picked.reindex(index).fillna(0).to_numpy(dtype=np.int64)

    out = leads.copy()
    dnc = any_of(kind == EventType.DNC_REQUEST)
    out["dnc"] = dnc
    out["applied"] = any_of(kind.isin([str(t) for t in CLOSED_EVENT_TYPES]))
    for ch in CHANNELS:
        on_channel = channel == str(ch)
        opted = any_of((kind == EventType.OPT_OUT) & on_channel)
        out[f"opted_out_{ch}"] = opted | dnc if ch in (Channel.CALL, Channel.TEXT) else opted
        granted = moment((kind == EventType.CONSENT_GRANTED) & on_channel, "max")
        revoked = moment((kind == EventType.CONSENT_REVOKED) & on_channel, "max")
        revoked_last = revoked.notna() & (granted.isna() | (revoked >= granted))
        on_record = leads[f"consent_{ch}"].to_numpy(dtype=bool)
        out[f"consent_{ch}"] = (on_record | granted.notna().to_numpy()) & ~revoked_last.to_numpy()
    out["first_touch_at"] = moment(kind.isin([str(t) for t in OUTBOUND_EVENT_TYPES]), "min")
    out["last_inbound_at"] = moment(kind.isin([str(t) for t in INBOUND_EVENT_TYPES]), "max")
    out["texts_replied"] = total(kind == EventType.TEXT_REPLIED)
    answered = (kind == EventType.CALL) & groups["call_outcome"].isin(ANSWERED_CALL_OUTCOMES)
    out["calls_connected"] = total(answered)
    for column in ("first_touch_at", "last_inbound_at"):
        out[column] = pd.to_datetime(out[column], utc=True)
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
