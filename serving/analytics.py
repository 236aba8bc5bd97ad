"""Team analytics from the event log: speed to lead, follow-up, contact rates, conversion by
follow-up intensity, time to application, applications and revenue, capacity used.

One report covers a window [since, until) and all officers or one. Its cost follows the events
in the window: one indexed read of the window's touches, responses and outcomes (joined to
their leads), one of the leads created in it, and one grouped read of the first touch of the
leads that applied in it; everything else is one vectorized pass over those frames.

Every figure counts leads, touches or applications, never lead-days. A rate carries its count,
its denominator and a 95% Wilson interval, and is flagged `small` under MIN_CELL: people are
shown "3 of 7", not "43%". What each figure means is in DEFINITIONS (the page, the markdown and
the API answer all carry it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from data_contracts.enums import EVENT_CHANNEL, Channel, EventType, LeadSource
from features.event_log import EventLog, events_table, leads_table
from serving.auth import OFFICER_PATTERN, UserStore
from serving.lead_state import ANSWERED_CALL_OUTCOMES, CAPACITY_EVENT_TYPES, _naive, _raw, _utc

MIN_CELL: Final = 20
"""Under this many leads, touches or applications a rate is flagged small: its 95% interval is
about +-20 points or wider, so it is shown as a count, not a percentage."""

DEFAULT_DAYS: Final = 90
MAX_DAYS: Final = 731
"""Two years: enough for any seasonal comparison, and a bound on one request's work."""

RESPONSE_WINDOW: Final = timedelta(hours=48)
"""A text counts as a contact when the lead replies within this long, an email when it is
opened within this long (the reply or open is credited to the latest such touch before it)."""

SPEED_TARGET_MIN: Final = 5.0
FOLLOW_UP_TARGET: Final = 5
"""DOMAIN.md: a first response within 5 minutes converts ~21x better than after 30; 80% of sales
come after the 5th contact."""

TOUCH_TYPES: Final = (EventType.CALL, EventType.TEXT_SENT, EventType.EMAIL_SENT)
RESPONSE_TYPES: Final = {
    Channel.TEXT: EventType.TEXT_REPLIED,
    Channel.EMAIL: EventType.EMAIL_OPENED,
}
READ_TYPES: Final = (
    *TOUCH_TYPES,
    *RESPONSE_TYPES.values(),
    EventType.APPLICATION_SUBMITTED,
    EventType.LOAN_FUNDED,
)
CHANNELS: Final = (Channel.CALL, Channel.TEXT, Channel.EMAIL)
WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

SPEED_BUCKETS: Final = (
    (5.0, "≤ 5 min"),
    (30.0, "5–30 min"),
    (60.0, "30–60 min"),
    (240.0, "1–4 h"),
    (1440.0, "4–24 h"),
    (10080.0, "1–7 days"),
    (math.inf, "> 7 days"),
)
"""(upper bound in minutes, label) of the first-response distribution; then 'not contacted'."""
NOT_CONTACTED: Final = "not contacted"

TOUCH_HISTOGRAM_TOP: Final = 12
"""Touches per new lead are counted 0, 1, ..., 11 and '12+' (DOMAIN.md: 8-12 are needed)."""

INTENSITY_BUCKETS: Final = ((0, "0"), (1, "1"), (2, "2"), (4, "3–4"), (7, "5–7"), (11, "8–11"))
"""(upper bound in touches, label) of the conversion table; then '12+'."""

APPLICATION_BUCKETS: Final = (
    (1.0, "≤ 1 day"),
    (7.0, "1–7 days"),
    (30.0, "1–4 weeks"),
    (90.0, "1–3 months"),
    (180.0, "3–6 months"),
    (math.inf, "> 6 months"),
)
"""(upper bound in days, label) of the time from first contact to application."""

DEFINITIONS: Final = {
    "new_leads": "leads created in the window (by the lead's created_at)",
    "touch": "an outbound call, text or email of ours",
    "speed_to_lead": "minutes from a new lead's creation to our first touch in the window; "
    "a lead not touched by the window's end counts as not within 5 minutes",
    "touches_per_lead": "touches a new lead received by the window's end (leads created near "
    "the end have had less time)",
    "contact_rate": "calls: a person answered (connected, appointment set, not interested, "
    "asked to stop); texts: the lead replied within 48 h; emails: opened within 48 h (a reply "
    "or open is credited to the latest touch before it). By the lead's local hour and weekday "
    "when its time zone is known",
    "conversion_by_touches": "new leads by the touches they received before applying (or by "
    "the window's end), and the share that applied in the window: an association, not an "
    "effect (a lead who applies early stops being touched)",
    "first_contact_to_application": "for each application in the window, days since the "
    "lead's first touch (ever); applications with no touch before them are counted apart",
    "applications": "leads with an application_submitted event in the window (a lead counts once)",
    "funded": "leads with a loan_funded event in the window",
    "revenue": "for each funded loan, its loan amount times the lender's compensation "
    "(LEADSCORE_COMPENSATION_BPS, the basis points the expected-value ranking uses)",
    "capacity_used": "our calls and texts on each day (workday time zone) against the daily "
    "capacity of the officers with activity in the window (their own or the default)",
    "small": f"fewer than {MIN_CELL} leads, touches or applications: shown as a count, the "
    "rate's 95% interval being about ±20 points or wider",
}


class AnalyticsInputError(ValueError):
    """A report parameter that cannot be used; names the parameter (since, until, officer)."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(message)


# -- the window --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportWindow:
    """[since, until) in UTC, optionally one officer, with the zone that defines a day."""

    since: datetime
    until: datetime
    officer: str | None
    zone: ZoneInfo

    def days(self) -> list[date]:
        """The workday-zone dates the window touches, in order."""
        first = self.since.astimezone(self.zone).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(self.zone).date()
        return [first + timedelta(days=k) for k in range((last - first).days + 1)]


_DAYS_AGO = re.compile(r"^(\d{1,4})d$")


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _moment(text: str, name: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    """An ISO date (its midnight in the zone; for until, the next midnight: the day is included)
    or an ISO date-time with an offset."""
    value = text.strip()
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise AnalyticsInputError(name, f"{name} '{value}' is not a date (YYYY-MM-DD)") from exc
        return _start_of(day + timedelta(days=1) if end_of_day else day, zone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        days = "a number of days (90d), " if name == "since" else ""
        raise AnalyticsInputError(
            name,
            f"{name} '{value[:40]}' is neither {days}a date (2026-09-01) nor an ISO date-time "
            "with an offset (2026-09-01T08:00:00-05:00)",
        ) from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AnalyticsInputError(
            name, f"{name} needs a time zone offset, e.g. {value[:19]}Z, or give a date"
        )
    return moment.astimezone(UTC)


def report_window(
    since: str | None,
    until: str | None,
    officer: str | None,
    *,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> ReportWindow:
    """The window asked for. until: a date (that whole day is included), a date-time with an
    offset, or now, and never later than now (days to come would count as idle capacity);
    since: 'Nd' (the N days ending with until's day, from midnight in the workday zone), a date,
    a date-time, or 90d. AnalyticsInputError names a bad parameter."""
    moment = now or datetime.now(UTC)
    stop = moment if not until else min(moment, _moment(until, "until", zone, end_of_day=True))
    text = (since or f"{DEFAULT_DAYS}d").strip()
    days_ago = _DAYS_AGO.match(text)
    if days_ago is not None:
        count = int(days_ago.group(1))
        if not 1 <= count <= MAX_DAYS:
            raise AnalyticsInputError("since", f"since '{text}': give 1d to {MAX_DAYS}d")
        last_day = (stop - timedelta(microseconds=1)).astimezone(zone).date()
        start = _start_of(last_day - timedelta(days=count - 1), zone)
    else:
        start = _moment(text, "since", zone, end_of_day=False)
    if start >= stop:
        raise AnalyticsInputError("since", "since must be before until")
    if stop - start > timedelta(days=MAX_DAYS + 1):
        raise AnalyticsInputError(
            "since", f"the window is {(stop - start).days} days; a report covers {MAX_DAYS} at most"
        )
    chosen = officer.strip() if officer else None
    if chosen is not None and not OFFICER_PATTERN.match(chosen):
        raise AnalyticsInputError(
            "officer", "an officer id is 1-64 letters, digits or _ . : - (e.g. lo-01)"
        )
    return ReportWindow(since=start, until=stop, officer=chosen, zone=zone)


# -- reading the event log ---------------------------------------------------------------------


@dataclass(frozen=True)
class TeamActivity:
    """What a report reads: the window's events (with their leads' officer, source, time zone
    and loan amount), the leads created in it, and the first touch of the leads that applied."""

    events: pd.DataFrame
    new_leads: pd.DataFrame
    first_touch: pd.Series
    capacities: dict[str, int] = field(default_factory=dict)


def known_officers(log: EventLog) -> list[str]:
    """Officer ids that have leads (read through the officer index)."""
    query = select(leads_table.c.officer_id).distinct().order_by(leads_table.c.officer_id)
    with log.engine.connect() as conn:
        return [str(v) for v in conn.execute(query).scalars()]


def read_team_activity(log: EventLog, window: ReportWindow) -> TeamActivity:
    """The rows a report needs, from indexed reads of the window (see the module docstring);
    AnalyticsInputError when the window names an officer without leads."""
    e, lead = events_table, leads_table
    since, until = _naive(window.since), _naive(window.until)
    events_query = (
        select(
            e.c.lead_id,
            _raw(e.c.occurred_at).label("occurred_at"),
            e.c.event_type,
            e.c.call_outcome,
            lead.c.officer_id,
            lead.c.source,
            lead.c.time_zone,
            lead.c.loan_amount_usd,
        )
        .select_from(e.join(lead, lead.c.lead_id == e.c.lead_id))
        .where(
            e.c.occurred_at >= since,
            e.c.occurred_at < until,
            e.c.event_type.in_([str(t) for t in READ_TYPES]),
        )
    )
    new_query = select(
        lead.c.lead_id,
        lead.c.officer_id,
        _raw(lead.c.created_at).label("created_at"),
        lead.c.source,
    ).where(lead.c.created_at >= since, lead.c.created_at < until)
    if window.officer is not None:
        events_query = events_query.where(lead.c.officer_id == window.officer)
        new_query = new_query.where(lead.c.officer_id == window.officer)
    with log.engine.connect() as conn:
        if window.officer is not None:
            known = conn.execute(
                select(lead.c.officer_id).where(lead.c.officer_id == window.officer).limit(1)
            ).first()
            if known is None:
                raise AnalyticsInputError(
                    "officer", f"no leads belong to officer '{window.officer}'"
                )
        events = pd.read_sql(events_query, conn)
        new_leads = pd.read_sql(new_query, conn)
        applied = (
            events.loc[events["event_type"] == str(EventType.APPLICATION_SUBMITTED), "lead_id"]
            .astype(str)
            .unique()
            .tolist()
        )
        first = []
        for start in range(0, len(applied), 900):
            first.append(
                pd.read_sql(
                    select(e.c.lead_id, _raw(func.min(e.c.occurred_at)).label("first_touch"))
                    .where(
                        e.c.lead_id.in_(applied[start : start + 900]),
                        e.c.event_type.in_([str(t) for t in TOUCH_TYPES]),
                    )
                    .group_by(e.c.lead_id),
                    conn,
                )
            )
    events["occurred_at"] = _utc(events["occurred_at"])
    new_leads["created_at"] = _utc(new_leads["created_at"])
    touched = (
        pd.concat(first, ignore_index=True)
        if first
        else pd.DataFrame({"lead_id": pd.Series(dtype=object), "first_touch": []})
    )
    first_touch = _utc(touched["first_touch"]).set_axis(pd.Index(touched["lead_id"].astype(str)))
    return TeamActivity(events, new_leads, first_touch, UserStore(log.engine).capacities())


# -- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """count of of, with a 95% Wilson interval; small when `of` is under MIN_CELL."""

    count: int
    of: int

    @property
    def value(self) -> float | None:
        return None if self.of == 0 else self.count / self.of

    @property
    def small(self) -> bool:
        return self.of < MIN_CELL

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.of == 0:
            return None
        z, n, p = 1.959964, self.of, self.count / self.of
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
        return max(0.0, centre - half), min(1.0, centre + half)

    def to_dict(self) -> dict[str, Any]:
        bounds = self.interval
        return {
            "count": self.count,
            "of": self.of,
            "rate": self.value,
            "low": None if bounds is None else bounds[0],
            "high": None if bounds is None else bounds[1],
            "small": self.small,
        }


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int


@dataclass(frozen=True)
class SpeedToLead:
    new_leads: int
    contacted: int
    within_5_min: Rate
    median_minutes: float | None
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class FollowUp:
    new_leads: int
    touches: int
    mean_per_lead: float | None
    median_per_lead: float | None
    five_plus: Rate
    distribution: tuple[Bucket, ...]


@dataclass(frozen=True)
class ContactCell:
    channel: str
    key: int
    """The lead's local hour (0-23) or weekday (0 = Monday)."""
    rate: Rate


@dataclass(frozen=True)
class ContactRates:
    by_channel: dict[str, Rate]
    by_local_hour: tuple[ContactCell, ...]
    by_local_weekday: tuple[ContactCell, ...]
    unknown_time_zone: int
    """Touches of leads without a time zone: in by_channel, not by hour or weekday."""


@dataclass(frozen=True)
class IntensityRow:
    label: str
    applied: Rate
    """New leads in this bucket that applied in the window, of the bucket's new leads."""


@dataclass(frozen=True)
class ApplicationTiming:
    applications: int
    contacted_before: int
    median_days: float | None
    quartile_days: tuple[float, float] | None
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class GroupRow:
    """One source or officer: new leads and how they converted, applications, funded loans and
    revenue in the window; for officers also speed, follow-up, call contact and capacity."""

    key: str
    new_leads: int
    converted: Rate
    applications: int
    funded: int
    revenue_usd: float
    within_5_min: Rate | None = None
    touches_per_lead: float | None = None
    five_plus: Rate | None = None
    call_contact: Rate | None = None
    capacity_used: float | None = None


@dataclass(frozen=True)
class CapacityDay:
    day: date
    contacts: int
    capacity: int

    @property
    def used(self) -> float | None:
        return None if self.capacity <= 0 else self.contacts / self.capacity


@dataclass(frozen=True)
class CapacityUse:
    days: tuple[CapacityDay, ...]
    weekday_used: float | None
    """Calls and texts on Monday-Friday over the capacity of those days."""
    days_at_capacity: int


@dataclass(frozen=True)
class TeamReport:
    window: ReportWindow
    officers: tuple[str, ...]
    compensation_bps: float
    default_capacity: int
    counts: dict[str, int]
    revenue_usd: float
    speed_to_lead: SpeedToLead
    follow_up: FollowUp
    contact: ContactRates
    conversion_by_touches: tuple[IntensityRow, ...]
    to_application: ApplicationTiming
    by_source: tuple[GroupRow, ...]
    by_officer: tuple[GroupRow, ...]
    capacity: CapacityUse
    generated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of GET /v1/analytics (and report.json)."""
        return {
            "window": {
                "since": self.window.since.isoformat(),
                "until": self.window.until.isoformat(),
                "officer": self.window.officer,
                "workday_time_zone": self.window.zone.key,
                "days": len(self.window.days()),
            },
            "generated_at": self.generated_at.isoformat(),
            "officers": list(self.officers),
            "min_cell": MIN_CELL,
            "compensation_bps": self.compensation_bps,
            "counts": dict(self.counts),
            "revenue_usd": self.revenue_usd,
            "speed_to_lead": {
                "new_leads": self.speed_to_lead.new_leads,
                "contacted": self.speed_to_lead.contacted,
                "within_5_min": self.speed_to_lead.within_5_min.to_dict(),
                "median_minutes": self.speed_to_lead.median_minutes,
                "distribution": _buckets(self.speed_to_lead.buckets),
            },
            "touches_per_lead": {
                "new_leads": self.follow_up.new_leads,
                "touches": self.follow_up.touches,
                "mean": self.follow_up.mean_per_lead,
                "median": self.follow_up.median_per_lead,
                "five_plus": self.follow_up.five_plus.to_dict(),
                "distribution": _buckets(self.follow_up.distribution),
            },
            "contact_rate": {
                "by_channel": {k: v.to_dict() for k, v in self.contact.by_channel.items()},
                "by_local_hour": [
                    {"channel": c.channel, "hour": c.key, **c.rate.to_dict()}
                    for c in self.contact.by_local_hour
                ],
                "by_local_weekday": [
                    {"channel": c.channel, "weekday": WEEKDAYS[c.key], **c.rate.to_dict()}
                    for c in self.contact.by_local_weekday
                ],
                "unknown_time_zone_touches": self.contact.unknown_time_zone,
            },
            "conversion_by_touches": [
                {"touches": row.label, **row.applied.to_dict()}
                for row in self.conversion_by_touches
            ],
            "first_contact_to_application": {
                "applications": self.to_application.applications,
                "contacted_before": self.to_application.contacted_before,
                "median_days": self.to_application.median_days,
                "quartile_days": None
                if self.to_application.quartile_days is None
                else list(self.to_application.quartile_days),
                "distribution": _buckets(self.to_application.buckets),
            },
            "by_source": [_group(row, "source") for row in self.by_source],
            "by_officer": [_group(row, "officer_id") for row in self.by_officer],
            "capacity": {
                "default_calls_per_day": self.default_capacity,
                "weekday_used": self.capacity.weekday_used,
                "days_at_capacity": self.capacity.days_at_capacity,
                "days": [
                    {
                        "date": d.day.isoformat(),
                        "contacts": d.contacts,
                        "capacity": d.capacity,
                        "used": d.used,
                    }
                    for d in self.capacity.days
                ],
            },
            "definitions": dict(DEFINITIONS),
        }


def _buckets(buckets: Sequence[Bucket]) -> list[dict[str, Any]]:
    return [{"label": b.label, "count": b.count} for b in buckets]


def _group(row: GroupRow, key_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        key_name: row.key,
        "new_leads": row.new_leads,
        "converted": row.converted.to_dict(),
        "applications": row.applications,
        "funded": row.funded,
        "revenue_usd": row.revenue_usd,
    }
    if key_name == "officer_id":
        out.update(
            within_5_min=None if row.within_5_min is None else row.within_5_min.to_dict(),
            touches_per_lead=row.touches_per_lead,
            five_plus=None if row.five_plus is None else row.five_plus.to_dict(),
            call_contact=None if row.call_contact is None else row.call_contact.to_dict(),
            capacity_used=row.capacity_used,
        )
    return out


def _encoded(activity: TeamActivity) -> TeamActivity:
    """The same rows with lead ids as integer codes and labels as categories: every
    comparison, isin, groupby and join below then works on small integers, not Python strings
    (a third of the report's time on 300k events)."""
    events, new_leads = activity.events, activity.new_leads
    codes, ids = pd.factorize(
        pd.concat([events["lead_id"], new_leads["lead_id"]], ignore_index=True)
    )
    events = events.assign(lead_id=codes[: len(events)])
    for column in ("event_type", "call_outcome", "officer_id", "source", "time_zone"):
        events[column] = events[column].astype("category")
    new_leads = new_leads.assign(
        lead_id=codes[len(events) :],
        officer_id=new_leads["officer_id"].astype("category"),
        source=new_leads["source"].astype("category"),
    )
    first_touch = activity.first_touch.set_axis(
        pd.Index(ids).get_indexer(activity.first_touch.index)
    )
    return TeamActivity(events, new_leads, first_touch, activity.capacities)


def _distinct(values: pd.Series) -> set[str]:
    return {str(v) for v in values.dropna().unique()}


def _naive_utc(moments: pd.Series) -> pd.Series:
    """Aware UTC timestamps as naive UTC datetime64 (fast comparisons and differences)."""
    naive: pd.Series = moments.dt.tz_convert(UTC).dt.tz_localize(None)
    return naive


def _rate(mask: pd.Series | np.ndarray) -> Rate:
    values = np.asarray(mask, dtype=bool)
    return Rate(int(values.sum()), int(values.size))


def _median(values: pd.Series) -> float | None:
    return None if values.empty else float(values.median())


def _bucketed(values: pd.Series, bounds: Sequence[tuple[float, str]]) -> list[Bucket]:
    """Counts of values <= each bound (and above the previous one)."""
    edges = [-math.inf, *(b for b, _ in bounds)]
    counts = pd.cut(values, edges, right=True, labels=False).value_counts()
    return [Bucket(label, int(counts.get(k, 0))) for k, (_, label) in enumerate(bounds)]


def _touches(events: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """Our touches: lead, officer, channel, contacted, the lead's local hour and weekday (-1
    when its time zone is unknown) and the day in the workday zone (naive midnight)."""
    kinds = events["event_type"]
    touches = events.loc[kinds.isin([str(t) for t in TOUCH_TYPES])].reset_index(drop=True)
    kind = touches["event_type"]
    channel = (
        kind.astype(str)
        .map({str(t): str(EVENT_CHANNEL[t]) for t in TOUCH_TYPES})
        .astype("category")
    )
    contacted = (
        (kind == str(EventType.CALL)) & touches["call_outcome"].isin(ANSWERED_CALL_OUTCOMES)
    ).to_numpy()
    for ch, response in RESPONSE_TYPES.items():
        sent = touches.loc[channel == str(ch), ["lead_id", "occurred_at"]]
        replies = events.loc[kinds == str(response), ["lead_id", "occurred_at"]]
        if sent.empty or replies.empty:
            continue
        matched = pd.merge_asof(
            replies.sort_values("occurred_at"),
            sent.assign(touch=sent.index).sort_values("occurred_at"),
            on="occurred_at",
            by="lead_id",
            direction="backward",
            tolerance=pd.Timedelta(RESPONSE_WINDOW),
        )
        contacted[matched["touch"].dropna().to_numpy(dtype=np.int64)] = True
    moments = pd.DatetimeIndex(touches["occurred_at"])
    hour = np.full(len(touches), -1, dtype=np.int64)
    weekday = np.full(len(touches), -1, dtype=np.int64)
    codes, zones = pd.factorize(touches["time_zone"])
    for code, name in enumerate(zones):  # code -1 (no time zone) keeps hour and weekday -1
        positions = np.flatnonzero(codes == code)
        try:
            local = moments[positions].tz_convert(ZoneInfo(str(name)))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # a zone this machine does not know counts as none
        hour[positions] = local.hour
        weekday[positions] = local.weekday
    return pd.DataFrame(
        {
            "lead_id": touches["lead_id"],
            "occurred_at": touches["occurred_at"],
            "officer_id": touches["officer_id"],
            "kind": kind,
            "channel": channel,
            "contacted": contacted,
            "hour": hour,
            "weekday": weekday,
            "day": moments.tz_convert(zone).tz_localize(None).normalize(),
        }
    )


def _cohort(
    activity: TeamActivity, touches: pd.DataFrame, applications: pd.DataFrame
) -> pd.DataFrame:
    """One row per new lead: minutes to the first touch, touches by the window's end, touches
    before its application, applied in the window."""
    leads = activity.new_leads.set_index("lead_id")
    mine = touches.loc[touches["lead_id"].isin(leads.index)]
    first = mine.groupby("lead_id")["occurred_at"].min()
    applied_at = applications.set_index("lead_id")["occurred_at"].reindex(leads.index)
    applied_for_touch = _naive_utc(applied_at.reindex(mine["lead_id"].to_numpy()))
    before = mine.loc[
        applied_for_touch.isna().to_numpy()
        | (_naive_utc(mine["occurred_at"]).to_numpy() < applied_for_touch.to_numpy())
    ]
    out = pd.DataFrame(index=leads.index)
    out["officer_id"] = leads["officer_id"]
    out["source"] = leads["source"]
    out["minutes"] = (first.reindex(leads.index) - leads["created_at"]).dt.total_seconds() / 60.0
    out["touches"] = mine.groupby("lead_id").size().reindex(leads.index).fillna(0).astype(int)
    out["touches_before"] = (
        before.groupby("lead_id").size().reindex(leads.index).fillna(0).astype(int)
    )
    out["applied"] = applied_at.notna()
    return out


def _speed(cohort: pd.DataFrame) -> SpeedToLead:
    minutes = cohort["minutes"]
    contacted = minutes.dropna()
    buckets = _bucketed(contacted, SPEED_BUCKETS)
    buckets.append(Bucket(NOT_CONTACTED, int(minutes.isna().sum())))
    return SpeedToLead(
        new_leads=len(cohort),
        contacted=len(contacted),
        within_5_min=_rate(minutes <= SPEED_TARGET_MIN),
        median_minutes=_median(contacted),
        buckets=tuple(buckets),
    )


def _follow_up(cohort: pd.DataFrame) -> FollowUp:
    touches = cohort["touches"]
    counts = touches.clip(upper=TOUCH_HISTOGRAM_TOP).value_counts()
    distribution = [Bucket(str(k), int(counts.get(k, 0))) for k in range(TOUCH_HISTOGRAM_TOP)]
    distribution.append(Bucket(f"{TOUCH_HISTOGRAM_TOP}+", int(counts.get(TOUCH_HISTOGRAM_TOP, 0))))
    return FollowUp(
        new_leads=len(cohort),
        touches=int(touches.sum()),
        mean_per_lead=None if touches.empty else float(touches.mean()),
        median_per_lead=_median(touches),
        five_plus=_rate(touches >= FOLLOW_UP_TARGET),
        distribution=tuple(distribution),
    )


def _contact(touches: pd.DataFrame) -> ContactRates:
    by_channel = {
        str(ch): _rate(touches.loc[touches["channel"] == str(ch), "contacted"]) for ch in CHANNELS
    }
    located = touches.loc[touches["hour"] >= 0]
    order = {str(ch): k for k, ch in enumerate(CHANNELS)}

    def cells(key: str) -> tuple[ContactCell, ...]:
        grouped = located.groupby(["channel", key], observed=True)["contacted"].agg(["sum", "size"])
        found = [
            ContactCell(str(channel), int(value), Rate(int(hits), int(size)))
            for (channel, value), hits, size in zip(
                grouped.index, grouped["sum"], grouped["size"], strict=True
            )
        ]
        return tuple(sorted(found, key=lambda c: (order[c.channel], c.key)))

    return ContactRates(
        by_channel=by_channel,
        by_local_hour=cells("hour"),
        by_local_weekday=cells("weekday"),
        unknown_time_zone=int((touches["hour"] < 0).sum()),
    )


def _intensity(cohort: pd.DataFrame) -> tuple[IntensityRow, ...]:
    bounds = [*INTENSITY_BUCKETS, (math.inf, f"{INTENSITY_BUCKETS[-1][0] + 1}+")]
    edges = [-math.inf, *(b for b, _ in bounds)]
    bucket = pd.cut(cohort["touches_before"], edges, right=True, labels=False)
    grouped = cohort["applied"].groupby(bucket).agg(["sum", "size"])
    return tuple(
        IntensityRow(
            label,
            Rate(int(grouped["sum"].get(k, 0)), int(grouped["size"].get(k, 0))),
        )
        for k, (_, label) in enumerate(bounds)
    )


def _to_application(applications: pd.DataFrame, first_touch: pd.Series) -> ApplicationTiming:
    first = _naive_utc(first_touch.reindex(applications["lead_id"].to_numpy()))
    applied = _naive_utc(applications["occurred_at"])
    days = pd.Series((applied.to_numpy() - first.to_numpy()) / np.timedelta64(1, "D"), dtype=float)
    before = days.loc[days >= 0]
    return ApplicationTiming(
        applications=len(applications),
        contacted_before=len(before),
        median_days=_median(before),
        quartile_days=None
        if before.empty
        else (float(before.quantile(0.25)), float(before.quantile(0.75))),
        buckets=tuple(_bucketed(before, APPLICATION_BUCKETS)),
    )


def _first_by_lead(events: pd.DataFrame, kind: EventType) -> pd.DataFrame:
    """Each lead's first event of this kind in the window, with its lead columns."""
    rows = events.loc[events["event_type"] == str(kind)]
    first = rows.sort_values("occurred_at").drop_duplicates("lead_id").reset_index(drop=True)
    return first.assign(
        officer_id=first["officer_id"].astype(str), source=first["source"].astype(str)
    )


def _count_by(frame: pd.DataFrame, key: str, keys: list[str]) -> dict[str, int]:
    counts = frame[key].astype(str).value_counts()
    return {k: int(counts.get(k, 0)) for k in keys}


def _rates_by(values: pd.Series, groups: pd.Series, keys: list[str]) -> dict[str, Rate]:
    grouped = values.astype(bool).groupby(groups, observed=True).agg(["sum", "size"])
    found = {
        str(k): Rate(int(a), int(b))
        for k, a, b in zip(grouped.index, grouped["sum"], grouped["size"], strict=True)
    }
    return {k: found.get(k, Rate(0, 0)) for k in keys}


def team_report(
    activity: TeamActivity,
    window: ReportWindow,
    *,
    default_capacity: int,
    compensation_bps: float,
    now: datetime | None = None,
) -> TeamReport:
    """Every figure of the team report from what read_team_activity read (pure)."""
    activity = _encoded(activity)
    events = activity.events
    touches = _touches(events, window.zone)
    applications = _first_by_lead(events, EventType.APPLICATION_SUBMITTED)
    funded = _first_by_lead(events, EventType.LOAN_FUNDED)
    funded = funded.assign(revenue_usd=funded["loan_amount_usd"] * compensation_bps / 10_000.0)
    cohort = _cohort(activity, touches, applications)
    active = _distinct(touches["officer_id"]) | _distinct(cohort["officer_id"])
    active |= _distinct(applications["officer_id"]) | _distinct(funded["officer_id"])
    officers = sorted(active | ({window.officer} if window.officer else set()))
    capacity_of = {o: activity.capacities.get(o, default_capacity) for o in officers}

    days = window.days()
    weekdays = sum(1 for d in days if d.weekday() < 5)
    used = touches.loc[touches["kind"].isin([str(t) for t in CAPACITY_EVENT_TYPES])]
    per_day = used.groupby("day").size()
    team_capacity = sum(capacity_of.values())
    capacity_days = tuple(
        CapacityDay(d, int(per_day.get(pd.Timestamp(d), 0)), team_capacity) for d in days
    )
    weekday_used = used.loc[used["day"].dt.weekday < 5]

    def use(contacts: int, capacity: int) -> float | None:
        return None if capacity * weekdays <= 0 else contacts / (capacity * weekdays)

    def grouped(key: str, keys: list[str]) -> list[GroupRow]:
        new = _count_by(cohort, key, keys)
        converted = _rates_by(cohort["applied"], cohort[key], keys)
        applied = _count_by(applications, key, keys)
        paid = _count_by(funded, key, keys)
        revenue = funded.groupby(key)["revenue_usd"].sum().reindex(keys, fill_value=0.0)
        return [
            GroupRow(
                key=k,
                new_leads=new[k],
                converted=converted[k],
                applications=applied[k],
                funded=paid[k],
                revenue_usd=usd,
            )
            for k, usd in zip(keys, revenue.to_numpy(dtype=float).tolist(), strict=True)
        ]

    sources = [str(s) for s in LeadSource]
    sources += sorted(
        (_distinct(cohort["source"]) | _distinct(applications["source"])) - set(sources)
    )
    fast = _rates_by(cohort["minutes"] <= SPEED_TARGET_MIN, cohort["officer_id"], officers)
    five = _rates_by(cohort["touches"] >= FOLLOW_UP_TARGET, cohort["officer_id"], officers)
    per_lead = cohort.groupby("officer_id", observed=True)["touches"].mean()
    calls = touches.loc[touches["channel"] == str(Channel.CALL)]
    answered = _rates_by(calls["contacted"], calls["officer_id"], officers)
    weekday_contacts = _count_by(weekday_used, "officer_id", officers)
    by_officer = [
        replace(
            row,
            within_5_min=fast[row.key],
            touches_per_lead=None if row.new_leads == 0 else float(per_lead[row.key]),
            five_plus=five[row.key],
            call_contact=answered[row.key],
            capacity_used=use(int(weekday_contacts[row.key]), capacity_of[row.key]),
        )
        for row in grouped("officer_id", officers)
    ]
    return TeamReport(
        window=window,
        officers=tuple(officers),
        compensation_bps=compensation_bps,
        default_capacity=default_capacity,
        counts={
            "new_leads": len(cohort),
            "touches": len(touches),
            "applications": len(applications),
            "funded": len(funded),
        },
        revenue_usd=float(funded["revenue_usd"].sum()),
        speed_to_lead=_speed(cohort),
        follow_up=_follow_up(cohort),
        contact=_contact(touches),
        conversion_by_touches=_intensity(cohort),
        to_application=_to_application(applications, activity.first_touch),
        by_source=tuple(grouped("source", sources)),
        by_officer=tuple(by_officer),
        capacity=CapacityUse(
            days=capacity_days,
            weekday_used=use(len(weekday_used), team_capacity),
            days_at_capacity=sum(1 for d in capacity_days if d.used is not None and d.used >= 1),
        ),
        generated_at=now or datetime.now(UTC),
    )


def build_team_report(
    log: EventLog,
    window: ReportWindow,
    *,
    default_capacity: int,
    compensation_bps: float,
) -> TeamReport:
    """Read the window from the event log and compute its report."""
    activity = read_team_activity(log, window)
    return team_report(
        activity, window, default_capacity=default_capacity, compensation_bps=compensation_bps
    )
