"""Point-in-time feature transforms: a lead's events fold into stored rows, then model inputs.

Two layers keep every feature exact at any as-of instant:

- **stored rows** (STORED_COLUMNS) change only when an event happens. ``LeadFold`` folds one
  lead's events, in (occurred_at, event_id) order, into cumulative counts, rates, reply speeds,
  the profile, the *moments* the clock features derive from, and the recent visit and inbound
  moments the windowed counts read. fold_leads() emits one row per lead per change (the lead's
  creation and each distinct event time), keyed by ``changed_at``; a row holds until the
  lead's next change. Cost grows with events, never with lead-days.
- **clock features** (definitions.CLOCK_FEATURES) move with the clock alone:
  derive_clock_features() computes them, vectorized and pure, from a stored row, the market
  rate and an as-of instant, offline and inside a Feast on-demand feature view at request time.

Point-in-time rule: the features of a lead at as_of come from its last stored row with
changed_at <= as_of (events with occurred_at <= as_of) and the market rate dated on or before
as_of's date. Protected attributes are never read.

Definitions a user can check:

- windows are half-open on the left: web_visits_7d counts visits in (as_of - 7 days, as_of];
  a stored row keeps the moments of the visits in the 30 days before its change (at most
  RECENT_MOMENTS_MAX of them), so windowed counts are exact at any later instant;
- a reply is a text_replied (to our last text_sent before it) or an email_clicked (to our last
  email_sent before it); only the first reply to a touch counts, and its speed is the minutes
  from that touch. reply_minutes_median is the median over all such replies so far;
- an answered touch is a text or email with such a reply, or a call whose outcome says a person
  answered (connected, appointment_set, not_interested, asked_to_stop);
  touches_answered_share = answered touches / touches_total (NaN without touches);
- email_open_rate = email_opened events / email_sent events (NaN when none were sent); repeated
  opens of one email count each time, as the CRM reports them;
- touches_since_last_inbound counts our touches after the lead's last inbound action (all touches
  when the lead never acted);
- the timeline comes from the lead's timeline_statement (stated at created_at) and later
  ``statement`` events (their ``text``): the latest statement about timing wins; a statement
  with no timing cue at all (parser rule "unknown") is ignored, while a vague one ("just
  looking", rule just_looking) replaces an earlier date with unknown;
- an open lead (is_open): created, no application_submitted (or loan_funded) yet, and not opted
  out of all three channels (opt_out per channel; a dnc_request opts out of call and text).
"""

from __future__ import annotations

import bisect
import json
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from data_contracts.enums import (
    INBOUND_EVENT_TYPES,
    OUTBOUND_EVENT_TYPES,
    CallOutcome,
    Channel,
    EventType,
    QuestionTopic,
)
from features.definitions import CLOCK_FEATURES, FEATURE_NAMES, FEATURES_BY_NAME
from features.segments import APPLICATION_INTENT_PAGE, engagement_tiers, timeline_segments
from features.timeline import DAYS_PER_MONTH, parse_timeline

FloatArray = npt.NDArray[np.float64]

TIMESTAMP_COLUMNS: Final[tuple[str, ...]] = (
    "created_at_epoch_s",
    "last_touch_at_epoch_s",
    "last_inbound_at_epoch_s",
    "last_visit_at_epoch_s",
    "last_intent_at_epoch_s",
    "timeline_ready_at_epoch_s",
)
"""Moments the clock features derive from, as float64 seconds since 1970-01-01 UTC, NaN for
none. Floats rather than timestamps because a Feast Float64 feature carries NaN through the
online store and into an on-demand feature view unchanged, where a missing timestamp would not."""

MOMENT_LIST_COLUMNS: Final[dict[str, int]] = {
    "recent_visit_moments": 30,
    "recent_inbound_moments": 7,
}
"""Lists of event moments (epoch seconds, ascending) within this many days before the row's
change: the windowed counts read them at any later as-of, exactly."""

RECENT_MOMENTS_MAX: Final = 1_000
"""A row keeps at most this many recent moments per list (a bot's burst would be unbounded)."""

STORED_COLUMNS: Final[dict[str, str]] = {
    # the lead's profile
    "source": "string",
    "loan_type": "string",
    "loan_amount_usd": "float64",
    "credit_band": "string",
    "quoted_rate_pct": "float64",
    # website engagement
    "distinct_pages": "int64",
    # email and text engagement
    "emails_sent": "int64",
    "emails_opened": "int64",
    "emails_clicked": "int64",
    "email_open_rate": "float64",
    "email_click_rate": "float64",
    "texts_sent": "int64",
    "texts_replied": "int64",
    # response speed
    "reply_minutes_median": "float64",
    "reply_minutes_last": "float64",
    "touches_answered_share": "float64",
    # questions
    "questions_total": "int64",
    "questions_rates": "int64",
    "questions_documents": "int64",
    "questions_pre_approval": "int64",
    "questions_credit": "int64",
    "questions_down_payment": "int64",
    # touches
    "touches_total": "int64",
    "touches_call": "int64",
    "touches_text": "int64",
    "touches_email": "int64",
    "touches_since_last_inbound": "int64",
    "last_call_outcome": "string",
    # open: not applied, not opted out of every channel
    "is_open": "int64",
    # the moments clock features derive from
    **dict.fromkeys(TIMESTAMP_COLUMNS, "float64"),
    **dict.fromkeys(MOMENT_LIST_COLUMNS, "list"),
}
"""The stored feature row: column -> dtype ("list": a list of float64). Every model feature
that is not a clock feature is here under its own name."""

ROW_KEY_COLUMNS: Final[tuple[str, ...]] = ("lead_id", "officer_id", "changed_at")
"""fold_leads() rows start with these (changed_at: datetime64[ns, UTC]), then STORED_COLUMNS."""

MARKET_RATE_COLUMN: Final = "market_rate_30y_pct"
"""The market rate of the as-of day: its own Feast view, joined point in time."""

CLOCK_COLUMNS: Final[tuple[str, ...]] = tuple(n for n in FEATURE_NAMES if n in CLOCK_FEATURES)
"""derive_clock_features() output columns, in FEATURE_NAMES order."""

CLOCK_INPUTS: Final[tuple[str, ...]] = (
    *TIMESTAMP_COLUMNS,
    *MOMENT_LIST_COLUMNS,
    "quoted_rate_pct",
)
"""The stored columns derive_clock_features reads (plus MARKET_RATE_COLUMN)."""

SECONDS_PER_DAY: Final = 86_400.0
WINDOW_DAYS: Final[tuple[int, ...]] = (1, 7, 30)
ANSWERED_CALL_OUTCOMES: Final = frozenset(
    {
        CallOutcome.CONNECTED,
        CallOutcome.APPOINTMENT_SET,
        CallOutcome.NOT_INTERESTED,
        CallOutcome.ASKED_TO_STOP,
    }
)
"""Call outcomes where a person picked up: the call counts as an answered touch."""

_INBOUND: Final = frozenset(t.value for t in INBOUND_EVENT_TYPES)
_OUTBOUND: Final = frozenset(t.value for t in OUTBOUND_EVENT_TYPES)
_ANSWERED: Final = frozenset(o.value for o in ANSWERED_CALL_OUTCOMES)
_CLOSING: Final = frozenset({EventType.APPLICATION_SUBMITTED.value, EventType.LOAN_FUNDED.value})
_EVENT_TYPES: Final = frozenset(t.value for t in EventType)
_CALL_OUTCOMES: Final = frozenset(o.value for o in CallOutcome)
_TOPICS: Final[tuple[str, ...]] = tuple(t.value for t in QuestionTopic)
_COUNTED: Final[tuple[str, ...]] = (
    *(t.value for t in EventType),
    *(f"question:{t}" for t in _TOPICS),
)
"""What a fold counts: every event type, and questions by topic."""
_AT: Final[dict[str, int]] = {name: i for i, name in enumerate(_COUNTED)}
_EMAIL_SENT, _EMAIL_OPENED, _EMAIL_CLICKED = (
    _AT[EventType.EMAIL_SENT.value],
    _AT[EventType.EMAIL_OPENED.value],
    _AT[EventType.EMAIL_CLICKED.value],
)
_TEXT_SENT, _TEXT_REPLIED, _CALL, _QUESTION = (
    _AT[EventType.TEXT_SENT.value],
    _AT[EventType.TEXT_REPLIED.value],
    _AT[EventType.CALL.value],
    _AT[EventType.QUESTION_ASKED.value],
)
_TOPIC_AT: Final = tuple(_AT[f"question:{t}"] for t in _TOPICS)
_ALL_CHANNELS: Final = frozenset(c.value for c in Channel)
_LEAD_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    column: FEATURES_BY_NAME[column].categories for column in ("source", "loan_type", "credit_band")
}
NAN: Final = float("nan")


class FeatureInputError(ValueError):
    """A lead, event or rate table cannot be turned into features; the message says why."""


# -- one lead's fold ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadProfile:
    """What the lead record says (the CRM may re-send it; a change refolds the lead)."""

    lead_id: str
    officer_id: str
    created_s: float
    source: str
    loan_type: str
    credit_band: str
    loan_amount_usd: float
    quoted_rate_pct: float
    timeline_statement: str


class LeadFold:
    """The running state of one lead's features: apply() each event in order, row() at a change.

    The state is complete: to_json()/from_json() round-trip it, so a fold can continue from a
    stored state with only the events that came after it.
    """

    __slots__ = (
        "answered",
        "closed",
        "counts",
        "touches",
        "email_pending",
        "last_call_outcome",
        "last_inbound_s",
        "last_intent_s",
        "last_key",
        "last_touch_s",
        "last_visit_s",
        "opted_out",
        "pages",
        "profile",
        "recent_inbound",
        "recent_visits",
        "replies",
        "text_pending",
        "timeline_ready_s",
        "touches_at_last_inbound",
    )

    def __init__(self, profile: LeadProfile) -> None:
        self.profile = profile
        self.counts = [0] * len(_COUNTED)
        self.touches = 0
        self.pages: set[str] = set()
        self.replies: list[float] = []
        self.answered = 0
        self.text_pending = NAN  # moment of our last text not yet replied to (NaN: none)
        self.email_pending = NAN
        self.last_touch_s = NAN
        self.last_inbound_s = NAN
        self.last_visit_s = NAN
        self.last_intent_s = NAN
        self.touches_at_last_inbound = 0
        self.last_call_outcome = "none"
        self.opted_out: set[str] = set()
        self.closed = False
        self.recent_visits: list[float] = []
        self.recent_inbound: list[float] = []
        self.last_key: tuple[float, str] = (-np.inf, "")
        self.timeline_ready_s = NAN
        self._state_statement(profile.timeline_statement, profile.created_s)

    def _state_statement(self, text: str, at_s: float) -> None:
        if not text:
            return
        parsed = parse_timeline(text, datetime.fromtimestamp(at_s, UTC))
        if parsed.rule != "unknown":  # a statement with no timing cue says nothing of timing
            self.timeline_ready_s = (
                parsed.ready_at.timestamp() if parsed.ready_at is not None else NAN
            )

    def apply(
        self,
        t_s: float,
        event_id: str,
        kind: str,
        channel: str,
        outcome: str,
        topic: str,
        page: str,
        text: str,
    ) -> None:
        """Fold one event in; events must come in (t_s, event_id) order."""
        self.last_key = (t_s, event_id)
        self.counts[_AT[kind]] += 1
        if kind in _OUTBOUND:
            self.touches += 1
            self.last_touch_s = t_s
            if kind == EventType.TEXT_SENT:
                self.text_pending = t_s
            elif kind == EventType.EMAIL_SENT:
                self.email_pending = t_s
            else:  # a call
                self.last_call_outcome = outcome
                self.answered += outcome in _ANSWERED
        elif kind in _INBOUND:
            self.last_inbound_s = t_s
            self.touches_at_last_inbound = self.touches
            _remember(self.recent_inbound, t_s, 7)
            if kind == EventType.WEB_VISIT:
                self.last_visit_s = t_s
                _remember(self.recent_visits, t_s, 30)
                if page:
                    self.pages.add(page)
                    if APPLICATION_INTENT_PAGE.search(page):
                        self.last_intent_s = t_s
            elif kind == EventType.TEXT_REPLIED and self.text_pending == self.text_pending:
                self._reply(t_s, self.text_pending)
                self.text_pending = NAN
            elif kind == EventType.EMAIL_CLICKED and self.email_pending == self.email_pending:
                self._reply(t_s, self.email_pending)
                self.email_pending = NAN
            elif kind == EventType.QUESTION_ASKED and topic in _TOPICS:
                self.counts[_AT[f"question:{topic}"]] += 1
                if topic == QuestionTopic.PRE_APPROVAL:
                    self.last_intent_s = t_s
            elif kind == EventType.STATEMENT:
                self._state_statement(text, t_s)
        elif kind in _CLOSING:
            self.closed = True
        elif kind == EventType.OPT_OUT and channel:
            self.opted_out.add(channel)
        elif kind == EventType.DNC_REQUEST:
            self.opted_out.update((Channel.CALL.value, Channel.TEXT.value))

    def _reply(self, t_s: float, touch_s: float) -> None:
        self.replies.append((t_s - touch_s) / 60.0)
        self.answered += 1

    def row(self, at_s: float) -> tuple[Any, ...]:
        """The stored row (STORED_COLUMNS order) as of a change at at_s."""
        p = self.profile
        c = self.counts
        sent, opened, clicked = c[_EMAIL_SENT], c[_EMAIL_OPENED], c[_EMAIL_CLICKED]
        touches = self.touches
        questions = [c[i] for i in _TOPIC_AT]
        is_open = not self.closed and not (self.opted_out >= _ALL_CHANNELS)
        return (
            p.source,
            p.loan_type,
            p.loan_amount_usd,
            p.credit_band,
            p.quoted_rate_pct,
            len(self.pages),
            sent,
            opened,
            clicked,
            opened / sent if sent else NAN,
            clicked / sent if sent else NAN,
            c[_TEXT_SENT],
            c[_TEXT_REPLIED],
            statistics.median(self.replies) if self.replies else NAN,
            self.replies[-1] if self.replies else NAN,
            self.answered / touches if touches else NAN,
            c[_QUESTION],
            *questions,
            touches,
            c[_CALL],
            c[_TEXT_SENT],
            sent,
            touches - self.touches_at_last_inbound,
            self.last_call_outcome,
            int(is_open),
            p.created_s,
            self.last_touch_s,
            self.last_inbound_s,
            self.last_visit_s,
            self.last_intent_s,
            self.timeline_ready_s,
            _within(self.recent_visits, at_s, 30),
            _within(self.recent_inbound, at_s, 7),
        )

    def to_json(self) -> str:
        """The whole state (profile excluded: the lead record holds it)."""
        return json.dumps(
            {
                "counts": {name: n for name, n in zip(_COUNTED, self.counts, strict=True) if n},
                "pages": sorted(self.pages),
                "replies": self.replies,
                "answered": self.answered,
                "pending": [self.text_pending, self.email_pending],
                "moments": [
                    self.last_touch_s,
                    self.last_inbound_s,
                    self.last_visit_s,
                    self.last_intent_s,
                    self.timeline_ready_s,
                ],
                "touches_at_last_inbound": self.touches_at_last_inbound,
                "last_call_outcome": self.last_call_outcome,
                "opted_out": sorted(self.opted_out),
                "closed": self.closed,
                "recent": [self.recent_visits, self.recent_inbound],
                "last_key": [self.last_key[0], self.last_key[1]],
            },
            allow_nan=True,
        )

    @classmethod
    def from_json(cls, profile: LeadProfile, text: str) -> LeadFold:
        data = json.loads(text)
        fold = cls.__new__(cls)
        fold.profile = profile
        fold.counts = [0] * len(_COUNTED)
        for name, n in data["counts"].items():
            fold.counts[_AT[name]] = int(n)
        fold.touches = sum(fold.counts[_AT[k]] for k in _OUTBOUND)
        fold.pages = set(data["pages"])
        fold.replies = [float(v) for v in data["replies"]]
        fold.answered = int(data["answered"])
        fold.text_pending, fold.email_pending = (float(v) for v in data["pending"])
        (
            fold.last_touch_s,
            fold.last_inbound_s,
            fold.last_visit_s,
            fold.last_intent_s,
            fold.timeline_ready_s,
        ) = (float(v) for v in data["moments"])
        fold.touches_at_last_inbound = int(data["touches_at_last_inbound"])
        fold.last_call_outcome = str(data["last_call_outcome"])
        fold.opted_out = set(data["opted_out"])
        fold.closed = bool(data["closed"])
        fold.recent_visits = [float(v) for v in data["recent"][0]]
        fold.recent_inbound = [float(v) for v in data["recent"][1]]
        fold.last_key = (float(data["last_key"][0]), str(data["last_key"][1]))
        return fold


def _remember(moments: list[float], t_s: float, days: int) -> None:
    """Append a moment; drop those that can no longer fall in a window of this many days."""
    moments.append(t_s)
    horizon = t_s - days * SECONDS_PER_DAY
    drop = bisect.bisect_right(moments, horizon)
    drop = max(drop, len(moments) - RECENT_MOMENTS_MAX)
    if drop > 0:
        del moments[:drop]


def _within(moments: list[float], at_s: float, days: int) -> list[float]:
    """The moments in (at_s - days, at_s]: what the row's windows can still see."""
    start = bisect.bisect_right(moments, at_s - days * SECONDS_PER_DAY)
    return moments[start:]


# -- inputs ------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeatureInputError(
            f"{table} lacks column(s) {missing}; "
            "see data_contracts.schemas for the expected columns"
        )


def _epoch_s(values: pd.Series, where: str, *, up: bool = False) -> FloatArray:
    """Seconds since the epoch of a tz-aware datetime column (NaT -> error), at microsecond
    precision (as SQL stores them): rounded down, or ``up`` for event times, so an event a
    nanosecond after an as-of instant never reads as at or before it."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise FeatureInputError(
            f"{where} must be tz-aware datetimes (got {values.dtype}); "
            "parse it with pd.to_datetime(..., utc=True)"
        )
    converted = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if converted.isna().any():
        raise FeatureInputError(f"{where} has empty timestamps (row {converted.isna().idxmax()})")
    ns = converted.to_numpy(dtype="datetime64[ns]").view(np.int64)
    micros = -(-ns // 1000) if up else ns // 1000
    return np.asarray(micros, dtype=np.float64) / 1e6  # microsecond-exact seconds


def _text(values: pd.Series) -> list[str]:
    return [str(v) for v in values.astype(object).where(values.notna(), "").tolist()]


def _optional(frame: pd.DataFrame, column: str) -> list[str]:
    if column in frame.columns:
        return _text(frame[column])
    return [""] * len(frame)


def lead_profiles(leads: pd.DataFrame) -> dict[str, LeadProfile]:
    """Each lead's profile by lead_id, checked (FeatureInputError names the lead and column)."""
    _require(
        leads,
        "leads",
        ("lead_id", "officer_id", "created_at", "source", "loan_type", "loan_amount_usd"),
    )
    ids = _text(leads["lead_id"])
    seen: set[str] = set()
    for lead_id in ids:
        if lead_id in seen:
            raise FeatureInputError(
                f"leads has lead_id '{lead_id}' more than once; pass one row per lead"
            )
        seen.add(lead_id)
    columns: dict[str, list[str]] = {}
    for column, categories in _LEAD_CATEGORIES.items():
        text = _optional(leads, column) if column in leads.columns else ["unknown"] * len(leads)
        if column == "credit_band":
            text = [t or "unknown" for t in text]
        allowed = set(categories)
        for lead_id, value in zip(ids, text, strict=True):
            if value not in allowed:
                raise FeatureInputError(
                    f"leads.{column} of lead '{lead_id}' is '{value}'; "
                    f"expected one of {list(categories)}"
                )
        columns[column] = text
    created = _epoch_s(leads["created_at"], "leads.created_at")
    amount = leads["loan_amount_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
    rate = (
        leads["quoted_rate_pct"].to_numpy(dtype=np.float64, na_value=np.nan)
        if "quoted_rate_pct" in leads.columns
        else np.full(len(leads), np.nan)
    )
    statements = _optional(leads, "timeline_statement")
    officers = _text(leads["officer_id"])
    return {
        lead_id: LeadProfile(
            lead_id=lead_id,
            officer_id=officers[i],
            created_s=float(created[i]),
            source=columns["source"][i],
            loan_type=columns["loan_type"][i],
            credit_band=columns["credit_band"][i],
            loan_amount_usd=float(amount[i]),
            quoted_rate_pct=float(rate[i]),
            timeline_statement=statements[i],
        )
        for i, lead_id in enumerate(ids)
    }


def profile_from_record(record: Mapping[str, Any]) -> LeadProfile:
    """One lead's profile from a lead record (an event-log row as a mapping): the few-leads
    path, without a frame. created_at is a tz-aware datetime."""
    lead_id = str(record["lead_id"])
    values: dict[str, str] = {}
    for column, categories in _LEAD_CATEGORIES.items():
        value = record.get(column) or ("unknown" if column == "credit_band" else "")
        if value not in categories:
            raise FeatureInputError(
                f"leads.{column} of lead '{lead_id}' is '{value}'; "
                f"expected one of {list(categories)}"
            )
        values[column] = str(value)
    created = record["created_at"]
    if getattr(created, "tzinfo", None) is None:
        raise FeatureInputError(f"leads.created_at of lead '{lead_id}' has no time zone")
    rate = record.get("quoted_rate_pct")
    return LeadProfile(
        lead_id=lead_id,
        officer_id=str(record["officer_id"]),
        created_s=_micro_seconds(created),
        source=values["source"],
        loan_type=values["loan_type"],
        credit_band=values["credit_band"],
        loan_amount_usd=float(record["loan_amount_usd"]),
        quoted_rate_pct=NAN if rate is None else float(rate),
        timeline_statement=str(record.get("timeline_statement") or ""),
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _micro_seconds(moment: datetime) -> float:
    """Epoch seconds of an aware datetime, computed as the frame path does (whole micros / 1e6)."""
    return float((moment - _EPOCH) // timedelta(microseconds=1)) / 1e6


def event_columns_from_records(records: Iterable[Mapping[str, Any]]) -> EventColumns:
    """event_columns() of event records (mappings with tz-aware occurred_at), without a frame."""
    rows = []
    for r in records:
        kind, outcome = str(r["event_type"]), str(r.get("call_outcome") or "")
        _check_event(str(r.get("event_id") or ""), kind, outcome)
        rows.append(
            (
                str(r["lead_id"]),
                _micro_seconds(r["occurred_at"]),
                str(r.get("event_id") or ""),
                kind,
                str(r.get("channel") or ""),
                outcome,
                str(r.get("question_topic") or ""),
                str(r.get("page") or ""),
                str(r.get("text") or ""),
            )
        )
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(9)]
    return EventColumns(*(list(c) for c in columns))


def _check_event(event_id: str, kind: str, outcome: str) -> None:
    if kind not in _EVENT_TYPES:
        raise FeatureInputError(
            f"event '{event_id}' has event_type '{kind}'; expected one of {sorted(_EVENT_TYPES)}"
        )
    if kind == EventType.CALL and outcome not in _CALL_OUTCOMES:
        raise FeatureInputError(
            f"call event '{event_id}' has no valid call_outcome; "
            f"expected one of {sorted(_CALL_OUTCOMES)}"
        )


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Events as plain Python columns, sorted by (lead_id, occurred_at, event_id)."""

    lead_id: list[str]
    t_s: list[float]
    event_id: list[str]
    kind: list[str]
    channel: list[str]
    outcome: list[str]
    topic: list[str]
    page: list[str]
    text: list[str]

    def __len__(self) -> int:
        return len(self.lead_id)

    def runs(self) -> Iterator[tuple[str, int, int]]:
        """(lead_id, start, stop) of each lead's events."""
        start = 0
        ids = self.lead_id
        for i in range(1, len(ids) + 1):
            if i == len(ids) or ids[i] != ids[start]:
                yield ids[start], start, i
                start = i


def event_columns(events: pd.DataFrame, leads: Iterable[str] | None = None) -> EventColumns:
    """Check and sort an events frame for folding (FeatureInputError names the bad event);
    with ``leads``, only those leads' events (a caller may pass a whole log)."""
    _require(events, "events", ("lead_id", "occurred_at", "event_type"))
    if leads is not None:
        events = events.loc[events["lead_id"].astype(str).isin(set(leads)).to_numpy()]
    lead_id = _text(events["lead_id"])
    t_s = _epoch_s(events["occurred_at"], "events.occurred_at", up=True)
    event_id = _text(events["event_id"]) if "event_id" in events.columns else [""] * len(events)
    kind = _text(events["event_type"])
    outcome = _optional(events, "call_outcome")
    for i, value in enumerate(kind):
        _check_event(event_id[i], value, outcome[i])
    order = sorted(range(len(lead_id)), key=lambda i: (lead_id[i], t_s[i], event_id[i]))
    channel, topic = _optional(events, "channel"), _optional(events, "question_topic")
    page, text = _optional(events, "page"), _optional(events, "text")

    def pick(values: list[Any]) -> list[Any]:
        return [values[i] for i in order]

    return EventColumns(
        lead_id=pick(lead_id),
        t_s=[float(t_s[i]) for i in order],
        event_id=pick(event_id),
        kind=pick(kind),
        channel=pick(channel),
        outcome=pick(outcome),
        topic=pick(topic),
        page=pick(page),
        text=pick(text),
    )


# -- folding many leads --------------------------------------------------------------------------


RowKey = tuple[str, str, float]
"""(lead_id, officer_id, changed_at in epoch seconds) of a stored row."""


@dataclass
class FoldResult:
    """Stored rows (ROW_KEY_COLUMNS + STORED_COLUMNS) and each folded lead's final state."""

    rows: pd.DataFrame
    states: dict[str, LeadFold]


@dataclass
class FoldRows:
    """fold_rows() output: row keys and rows (STORED_COLUMNS order), and final states."""

    keys: list[RowKey]
    rows: list[tuple[Any, ...]]
    states: dict[str, LeadFold]


def fold_leads(
    profiles: Mapping[str, LeadProfile],
    events: EventColumns,
    *,
    states: Mapping[str, LeadFold] | None = None,
    lead_ids: Iterable[str] | None = None,
    last_row_only: bool = False,
) -> FoldResult:
    """fold_rows() as a typed frame (stored_rows_frame)."""
    folded = fold_rows(
        profiles, events, states=states, lead_ids=lead_ids, last_row_only=last_row_only
    )
    return FoldResult(rows=stored_rows_frame(folded.keys, folded.rows), states=folded.states)


def fold_rows(
    profiles: Mapping[str, LeadProfile],
    events: EventColumns,
    *,
    states: Mapping[str, LeadFold] | None = None,
    lead_ids: Iterable[str] | None = None,
    last_row_only: bool = False,
) -> FoldRows:
    """Fold each lead's events into stored rows, one per change.

    Leads: ``lead_ids`` (default: every profile). A lead with a state in ``states`` continues
    from it with ``events`` (all later than the state's last event: the caller refolds a lead
    whose new events are older); a lead without starts at its creation with a row there.
    Events of unknown leads are ignored. ``last_row_only`` keeps each lead's newest row only
    (the online store's value). Rows come ordered by lead, then changed_at.
    """
    states = states or {}
    runs = {lead_id: (start, stop) for lead_id, start, stop in events.runs()}
    wanted = list(profiles) if lead_ids is None else list(dict.fromkeys(lead_ids))
    out_rows: list[tuple[Any, ...]] = []
    out_keys: list[RowKey] = []
    finals: dict[str, LeadFold] = {}
    for lead_id in sorted(wanted):
        profile = profiles.get(lead_id)
        if profile is None:
            continue
        fold = states.get(lead_id)
        lead_rows: list[tuple[RowKey, tuple[Any, ...]]] = []
        creation = fold is None  # a new lead gets a row at its creation
        if fold is None:
            fold = LeadFold(profile)
        created_key = (lead_id, profile.officer_id, profile.created_s)
        start, stop = runs.get(lead_id, (0, 0))
        for i in range(start, stop):
            t_s = max(events.t_s[i], profile.created_s)
            if creation and t_s > profile.created_s:
                lead_rows.append((created_key, fold.row(profile.created_s)))
            creation = False  # written above, or replaced by this moment's row
            fold.apply(
                t_s,
                events.event_id[i],
                events.kind[i],
                events.channel[i],
                events.outcome[i],
                events.topic[i],
                events.page[i],
                events.text[i],
            )
            if i + 1 < stop and events.t_s[i + 1] <= t_s:
                continue  # the next event shares this moment: one row for the moment
            lead_rows.append(((lead_id, profile.officer_id, t_s), fold.row(t_s)))
        if creation:
            lead_rows.append((created_key, fold.row(profile.created_s)))
        if last_row_only:
            lead_rows = lead_rows[-1:]
        for key, row in lead_rows:
            out_keys.append(key)
            out_rows.append(row)
        finals[lead_id] = fold
    return FoldRows(keys=out_keys, rows=out_rows, states=finals)


def stored_rows_frame(keys: list[RowKey], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Typed frame of fold rows: ROW_KEY_COLUMNS + STORED_COLUMNS."""
    seconds = np.fromiter((k[2] for k in keys), dtype=np.float64, count=len(keys))
    frame: dict[str, Any] = {
        "lead_id": pd.array([k[0] for k in keys], dtype="string"),
        "officer_id": pd.array([k[1] for k in keys], dtype="string"),
        "changed_at": pd.to_datetime(
            np.round(seconds * 1e6).astype(np.int64), unit="us", utc=True
        ).astype("datetime64[ns, UTC]"),
    }
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in STORED_COLUMNS]
    for (name, dtype), values in zip(STORED_COLUMNS.items(), columns, strict=True):
        if dtype == "string":
            frame[name] = pd.array(list(values), dtype="string")
        elif dtype == "list":
            frame[name] = pd.Series(list(values), dtype=object)
        else:
            frame[name] = np.asarray(values, dtype=dtype)
    return pd.DataFrame(frame)


def stored_rows_table(keys: list[RowKey], rows: list[tuple[Any, ...]]) -> pa.Table:
    """Fold rows as an Arrow table (ROW_KEY_COLUMNS + STORED_COLUMNS): the build's way to
    parquet, without a pandas frame in between."""
    micros = [round(k[2] * 1e6) for k in keys]
    arrays: dict[str, pa.Array] = {
        "lead_id": pa.array([k[0] for k in keys], pa.string()),
        "officer_id": pa.array([k[1] for k in keys], pa.string()),
        "changed_at": pa.array(micros, pa.int64())
        .cast(pa.timestamp("us", tz="UTC"))
        .cast(pa.timestamp("ns", tz="UTC")),
    }
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in STORED_COLUMNS]
    for (name, dtype), values in zip(STORED_COLUMNS.items(), columns, strict=True):
        arrow_type = _ARROW_TYPES[dtype]
        if dtype == "float64":
            arrays[name] = pa.array(values, arrow_type, from_pandas=True)  # NaN stays NaN
        else:
            arrays[name] = pa.array(values, arrow_type)
    return pa.table(arrays)


_ARROW_TYPES: Final = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "list": pa.list_(pa.float64()),
}


def empty_rows() -> pd.DataFrame:
    return stored_rows_frame([], [])


# -- clock features ----------------------------------------------------------------------------


def _epoch_seconds(values: pd.Series | pd.Timestamp | datetime, n_rows: int) -> FloatArray:
    if isinstance(values, pd.Series):
        if len(values) != n_rows:
            raise FeatureInputError(f"as_of has {len(values)} values for {n_rows} stored rows")
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            stamps = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
            ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
            seconds = (ns // 1000).astype(np.float64) / 1e6
            return np.where(stamps.isna().to_numpy(), np.nan, seconds)
        if pd.api.types.is_numeric_dtype(values.dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)  # already epoch seconds
        raise FeatureInputError(
            f"as_of must be tz-aware datetimes or epoch seconds (got {values.dtype})"
        )
    return np.full(n_rows, _timestamp_s(values, "as_of"))


def _timestamp_s(moment: datetime | pd.Timestamp, name: str) -> float:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise FeatureInputError(f"{name} has no time zone; pass e.g. pd.Timestamp(..., tz='UTC')")
    return float(stamp.tz_convert("UTC").value // 1000) / 1e6


def _stored_float(stored: pd.DataFrame, column: str) -> FloatArray:
    if column not in stored.columns:
        raise FeatureInputError(
            f"stored rows lack '{column}'; derive_clock_features needs {list(CLOCK_INPUTS)} "
            f"and {MARKET_RATE_COLUMN}"
        )
    return pd.to_numeric(stored[column]).to_numpy(dtype=np.float64, na_value=np.nan)


def _window_counts(stored: pd.DataFrame, column: str, now_s: FloatArray, days: int) -> FloatArray:
    """How many of each row's moments fall in (now - days, now]."""
    if column not in stored.columns:
        raise FeatureInputError(f"stored rows lack '{column}' (a list of moments)")
    lists = [() if v is None or (isinstance(v, float) and v != v) else v for v in stored[column]]
    lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    if lengths.sum() == 0:
        return np.zeros(len(lists))
    flat = np.concatenate([np.asarray(v, dtype=np.float64) for v in lists if len(v)])
    now = np.repeat(now_s, lengths)
    inside = ((flat > now - days * SECONDS_PER_DAY) & (flat <= now)).astype(np.int64)
    counts = np.zeros(len(lists))
    owners = np.repeat(np.arange(len(lists)), lengths)
    np.add.at(counts, owners, inside)
    return counts


def derive_clock_features(
    stored: pd.DataFrame, as_of: pd.Series | pd.Timestamp | datetime
) -> pd.DataFrame:
    """Clock features (CLOCK_COLUMNS) of stored rows at as_of: pure and vectorized.

    ``stored`` carries CLOCK_INPUTS and MARKET_RATE_COLUMN (the market rate of the as-of day,
    NaN when unknown). ``as_of`` is one tz-aware moment or a Series aligned with ``stored`` by
    position (tz-aware datetimes, or float epoch seconds as a Feast request field carries them).
    days_since_* are (as_of - moment) in days, NaN when the moment is unknown, and never
    negative; windowed counts count the stored moments in (as_of - window, as_of];
    timeline_months is the months from as_of to the stated ready date, floored at 0, NaN when
    unknown; rate_gap_pct is the quoted rate minus the market rate; the segments follow
    features.segments.
    """
    now_s = _epoch_seconds(as_of, len(stored))

    def days_since(column: str) -> FloatArray:
        return np.maximum((now_s - _stored_float(stored, column)) / SECONDS_PER_DAY, 0.0)

    ready_s = _stored_float(stored, "timeline_ready_at_epoch_s")
    timeline_months = np.maximum((ready_s - now_s) / SECONDS_PER_DAY / DAYS_PER_MONTH, 0.0)
    days_since_created = days_since("created_at_epoch_s")
    days_since_last_inbound = days_since("last_inbound_at_epoch_s")
    clock: dict[str, Any] = {
        f"web_visits_{days}d": _window_counts(stored, "recent_visit_moments", now_s, days)
        for days in WINDOW_DAYS
    }
    clock |= {
        "days_since_created": days_since_created,
        "days_since_last_touch": days_since("last_touch_at_epoch_s"),
        "days_since_last_inbound": days_since_last_inbound,
        "days_since_last_visit": days_since("last_visit_at_epoch_s"),
        "timeline_months": timeline_months,
        "timeline_segment": timeline_segments(timeline_months),
        "rate_gap_pct": _stored_float(stored, "quoted_rate_pct")
        - _stored_float(stored, MARKET_RATE_COLUMN),
        "engagement_tier": engagement_tiers(
            days_since_last_inbound,
            _window_counts(stored, "recent_inbound_moments", now_s, 7),
            days_since("last_intent_at_epoch_s"),
            days_since_created,
        ),
    }
    return pd.DataFrame({name: clock[name] for name in CLOCK_COLUMNS}, index=stored.index)


def model_frame(stored_with_as_of: pd.DataFrame) -> pd.DataFrame:
    """The model input (FEATURE_NAMES, in order) of stored rows that carry their ``as_of`` and
    MARKET_RATE_COLUMN. ints are int64, floats float64, categories str; the index is the input's.
    """
    _require(stored_with_as_of, "stored rows", ("as_of",))
    clock = derive_clock_features(stored_with_as_of, stored_with_as_of["as_of"])
    return typed_features(stored_with_as_of, clock)


def typed_features(stored: pd.DataFrame, clock: pd.DataFrame) -> pd.DataFrame:
    """FEATURE_NAMES with the model's dtypes: stored features from ``stored``, the rest from
    ``clock``."""
    columns: dict[str, object] = {}
    for name in FEATURE_NAMES:
        source = clock if name in CLOCK_FEATURES else stored
        if name not in source.columns:
            raise FeatureInputError(f"stored rows lack '{name}'; fold them with fold_leads()")
        kind = FEATURES_BY_NAME[name].kind
        values = source[name]
        if kind == "int":
            columns[name] = pd.to_numeric(values).fillna(0).to_numpy(dtype=np.int64)
        elif kind == "float":
            columns[name] = pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            columns[name] = values.astype(str).to_numpy(dtype=object)
    return pd.DataFrame(columns, index=stored.index, copy=False)


# -- point in time -----------------------------------------------------------------------------


def market_rates_by_day(rates: pd.DataFrame) -> pd.DataFrame:
    """Rates as (rate_day: datetime64[ns, UTC] at 00:00, MARKET_RATE_COLUMN), one per day,
    sorted: a rate dated D is known from D 00:00 UTC on."""
    _require(rates, "rates", ("date", "rate_30y_pct"))
    known = rates.loc[rates["rate_30y_pct"].notna()]
    try:
        days = pd.to_datetime(known["date"].astype(str), format="%Y-%m-%d", utc=True)
    except ValueError as error:
        raise FeatureInputError(f"rates.date must be 'YYYY-MM-DD': {error}") from error
    frame = pd.DataFrame(
        {
            "rate_day": days.astype("datetime64[ns, UTC]").to_numpy(),
            MARKET_RATE_COLUMN: known["rate_30y_pct"].to_numpy(dtype=np.float64),
        }
    )
    frame["rate_day"] = pd.to_datetime(frame["rate_day"], utc=True)
    return (
        frame.drop_duplicates("rate_day", keep="last")
        .sort_values("rate_day")
        .reset_index(drop=True)
    )


def rows_as_of(
    rows: pd.DataFrame, entities: pd.DataFrame, rates: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Point-in-time join in memory: each (lead_id, as_of) entity gets its lead's last stored
    row with changed_at <= as_of and, with ``rates``, the market rate of as_of's day.

    The same join Feast's offline store does, for code that folds in memory (the policy
    backtest, tests). Returns the entities' columns plus STORED_COLUMNS (has_row False where
    the lead had no row yet) and MARKET_RATE_COLUMN, in the entities' order.
    """
    _require(entities, "entities", ("lead_id", "as_of"))
    left = entities.reset_index(drop=True).copy()
    left["_row"] = np.arange(len(left))
    left["_key"] = left["lead_id"].astype(str)
    left["_t"] = pd.to_datetime(left["as_of"], utc=True).astype("datetime64[ns, UTC]")
    right = rows.drop(columns=["officer_id"], errors="ignore").rename(columns={"lead_id": "_key"})
    right["_key"] = right["_key"].astype(str)
    right["_t"] = right.pop("changed_at").astype("datetime64[ns, UTC]")
    right["has_row"] = True
    joined = pd.merge_asof(
        left.sort_values("_t"),
        right.sort_values("_t"),
        on="_t",
        by="_key",
        direction="backward",
        allow_exact_matches=True,
    )
    joined["has_row"] = joined["has_row"].astype("boolean").fillna(False).astype(bool)
    if rates is not None:
        by_day = market_rates_by_day(rates).rename(columns={"rate_day": "_t"})
        joined = pd.merge_asof(joined.sort_values("_t"), by_day, on="_t", direction="backward")
    joined = joined.sort_values("_row").reset_index(drop=True)
    return joined.drop(columns=["_row", "_key", "_t"])


def compute_features(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    rates: pd.DataFrame,
    as_of: pd.Timestamp | datetime,
) -> pd.DataFrame:
    """Model inputs (lead_id + FEATURE_NAMES) of every lead open at one as_of.

    The same code path as the stored rows: fold the events up to as_of, take each lead's row
    as of then, derive the clock features.
    """
    _timestamp_s(as_of, "as_of")  # refuses a naive moment
    joined = open_rows_at(leads, events, rates, [pd.Timestamp(as_of)])
    features = model_frame(joined)
    features.insert(0, "lead_id", joined["lead_id"].astype(str).to_numpy(dtype=object))
    return features.reset_index(drop=True)


def label_entities(
    entities: pd.DataFrame, events: pd.DataFrame, horizon_days: int = 30
) -> pd.Series:
    """Did each (lead_id, as_of) entity's lead submit an application in (as_of, as_of + horizon]?"""
    _require(entities, "entities", ("lead_id", "as_of"))
    _require(events, "events", ("lead_id", "occurred_at", "event_type"))
    if horizon_days <= 0:
        raise FeatureInputError(f"horizon_days must be positive, got {horizon_days}")
    applied = events.loc[events["event_type"] == EventType.APPLICATION_SUBMITTED.value]
    times: dict[str, list[float]] = {}
    for lead_id, t in zip(
        _text(applied["lead_id"]),
        _epoch_s(applied["occurred_at"], "events.occurred_at", up=True),
        strict=True,
    ):
        times.setdefault(lead_id, []).append(float(t))
    for values in times.values():
        values.sort()
    as_of = _epoch_s(
        pd.to_datetime(entities["as_of"], utc=True).astype("datetime64[ns, UTC]"), "as_of"
    )
    horizon = horizon_days * SECONDS_PER_DAY
    labels = np.zeros(len(entities), dtype=bool)
    for k, (lead_id, t) in enumerate(zip(_text(entities["lead_id"]), as_of, strict=True)):
        applied_at = times.get(lead_id)
        if applied_at:
            labels[k] = bisect.bisect_right(applied_at, t + horizon) > bisect.bisect_right(
                applied_at, t
            )
    return pd.Series(labels, index=entities.index, name=f"applied_within_{horizon_days}d")


def open_intervals(leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """When each lead is open: lead_id, officer_id, opened_at (creation) and closed_at (its
    first application, or the opt-out that left no channel; NaT while still open)."""
    profiles = lead_profiles(leads)
    columns = event_columns(events)
    closed: dict[str, float] = {}
    for lead_id, start, stop in columns.runs():
        opted: set[str] = set()
        for i in range(start, stop):
            kind = columns.kind[i]
            if kind == EventType.OPT_OUT and columns.channel[i]:
                opted.add(columns.channel[i])
            elif kind == EventType.DNC_REQUEST:
                opted.update((Channel.CALL.value, Channel.TEXT.value))
            if kind in _CLOSING or opted >= _ALL_CHANNELS:
                closed[lead_id] = columns.t_s[i]
                break
    ids = list(profiles)
    return pd.DataFrame(
        {
            "lead_id": ids,
            "officer_id": [profiles[i].officer_id for i in ids],
            "opened_at": pd.to_datetime([profiles[i].created_s for i in ids], unit="s", utc=True),
            "closed_at": pd.to_datetime([closed.get(i, np.nan) for i in ids], unit="s", utc=True),
        }
    )


def open_rows_at(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    rates: pd.DataFrame,
    as_of_times: Iterable[pd.Timestamp | datetime],
) -> pd.DataFrame:
    """Stored rows (with ``as_of`` and the market rate) of every lead open at each as-of time,
    ordered by lead, then as-of: what model_frame() turns into model inputs.

    The in-memory path for code that replays a history (the backtest, tests): one fold of the
    events, then the point-in-time join, exactly as Feast's offline store joins.
    """
    profiles = lead_profiles(leads)
    folded = fold_leads(profiles, event_columns(events, profiles)).rows
    return open_rows_from(folded, rates, as_of_times)


def open_rows_from(
    rows: pd.DataFrame, rates: pd.DataFrame, as_of_times: Iterable[pd.Timestamp | datetime]
) -> pd.DataFrame:
    """open_rows_at() from stored rows already folded (fold_leads output or the offline store)."""
    times = pd.DatetimeIndex([pd.Timestamp(t) for t in as_of_times])
    if len(times) and times.tz is None:
        raise FeatureInputError("as_of_times have no time zone; pass tz-aware instants")
    officers = rows.drop_duplicates("lead_id").set_index(rows["lead_id"].astype(str).unique())
    ids = officers.index.to_numpy(dtype=object)
    entities = pd.DataFrame(
        {
            "lead_id": np.repeat(ids, len(times)),
            "as_of": np.tile(times.tz_convert("UTC").to_numpy() if len(times) else [], len(ids)),
        }
    )
    entities["as_of"] = pd.to_datetime(entities["as_of"], utc=True)
    joined = rows_as_of(rows, entities, rates)
    joined = joined.loc[joined["has_row"] & (joined["is_open"] == 1)].reset_index(drop=True)
    officer_of = dict(zip(ids, officers["officer_id"].astype(str), strict=True))
    joined.insert(1, "officer_id", joined["lead_id"].map(officer_of).astype(str))
    return joined.drop(columns="has_row")
