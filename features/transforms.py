"""Point-in-time feature transforms: events up to as_of become stored features, then model inputs.

Two layers keep clock features right at request time:

- **stored features** (STORED_COLUMNS) change only when an event happens or a window slides:
  counts, windowed counts, rates, reply speeds, profile columns, the rate gap, and the
  *timestamps* the clock features derive from. build_snapshots() computes them for every open
  lead at each as-of time; they are what the Feast feature view stores.
- **clock features** (definitions.CLOCK_FEATURES) change with the clock alone:
  derive_clock_features() computes them, vectorized and pure, from stored rows and an as-of time,
  so it runs offline and inside a Feast on-demand feature view at request time.

Point-in-time rule: a row at as_of reads only events with occurred_at <= as_of and the market
rate dated on or before as_of's date. Events of leads missing from ``leads`` are ignored, so a
caller may pass a whole event log with one lead. Protected attributes are never read.

Definitions a user can check:

- windows are half-open on the left: web_visits_7d counts visits in (as_of - 7 days, as_of];
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
- an open lead: created_at <= as_of, no application_submitted (or loan_funded) at or before
  as_of, and not opted out of all three channels (opt_out per channel; a dnc_request opts out
  of call and text).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import (
    INBOUND_EVENT_TYPES,
    OUTBOUND_EVENT_TYPES,
    CallOutcome,
    Channel,
    EventType,
    QuestionTopic,
)
from features.definitions import (
    CLOCK_FEATURES,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    LAST_CALL_OUTCOMES,
)
from features.segments import APPLICATION_INTENT_PAGE, engagement_tiers, timeline_segments
from features.timeline import DAYS_PER_MONTH, parse_timeline

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

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

STORED_COLUMNS: Final[dict[str, str]] = {
    # the lead's profile
    "source": "string",
    "loan_type": "string",
    "loan_amount_usd": "float64",
    "credit_band": "string",
    "rate_gap_pct": "float64",
    # website engagement
    "web_visits_1d": "int64",
    "web_visits_7d": "int64",
    "web_visits_30d": "int64",
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
    # engagement-tier input that is not a model feature
    "inbound_7d": "int64",
    # the moments clock features derive from
    **dict.fromkeys(TIMESTAMP_COLUMNS, "float64"),
}
"""The stored feature row: column -> pandas dtype, as build_snapshots() returns it. Every
non-clock model feature is here under its own name."""

SNAPSHOT_KEY_COLUMNS: Final[tuple[str, ...]] = ("lead_id", "officer_id", "as_of")
"""build_snapshots() returns these (lead_id, officer_id: string; as_of: datetime64[ns, UTC])
followed by STORED_COLUMNS."""

CLOCK_COLUMNS: Final[tuple[str, ...]] = tuple(n for n in FEATURE_NAMES if n in CLOCK_FEATURES)
"""derive_clock_features() output columns, in FEATURE_NAMES order."""

SECONDS_PER_DAY: Final = 86_400.0
NS_PER_SECOND: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_SECOND
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

_EVENT_TYPES: Final[tuple[str, ...]] = tuple(EventType)
_CHANNELS: Final[tuple[str, ...]] = tuple(Channel)
_TOPICS: Final[tuple[str, ...]] = tuple(QuestionTopic)
_CALL_OUTCOMES: Final[tuple[str, ...]] = LAST_CALL_OUTCOMES[1:]  # without "none"
_NEVER: Final = np.iinfo(np.int64).max
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LEAD_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    column: FEATURES_BY_NAME[column].categories for column in ("source", "loan_type", "credit_band")
}


class FeatureInputError(ValueError):
    """A lead, event or rate table cannot be turned into features; the message says why."""


# -- inputs -----------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeatureInputError(
            f"{table} lacks column(s) {missing}; "
            "see data_contracts.schemas for the expected columns"
        )


def _utc_ns(values: pd.Series, where: str) -> IntArray:
    """Nanoseconds since the epoch of a tz-aware datetime column (NaT -> error)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise FeatureInputError(
            f"{where} must be tz-aware datetimes (got {values.dtype}); "
            "parse it with pd.to_datetime(..., utc=True)"
        )
    converted = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if converted.isna().any():
        raise FeatureInputError(f"{where} has empty timestamps (row {converted.isna().idxmax()})")
    return np.asarray(converted.to_numpy(dtype="datetime64[ns]").view(np.int64), dtype=np.int64)


def _codes(values: pd.Series, categories: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Category codes (-1 for empty or unknown values); hashes each distinct value once."""
    return _index_of(values, pd.Index(categories)).astype(np.int8)


def _index_of(values: pd.Series, index: pd.Index) -> IntArray:
    """Position of each value in ``index`` (-1 when absent or empty)."""
    codes, uniques = pd.factorize(values)  # empty values get code -1
    lookup = np.append(index.get_indexer(pd.Index(uniques, dtype=object)), -1)
    return np.asarray(lookup[codes], dtype=np.int64)  # code -1 (empty) picks the appended -1


def _text(values: pd.Series) -> npt.NDArray[np.object_]:
    """Plain str objects with '' for empty: cheap to gather, easy to compare."""
    return values.astype(object).where(values.notna(), "").to_numpy(dtype=object)


@dataclass(frozen=True, slots=True)
class _Leads:
    lead_id: npt.NDArray[np.object_]
    officer_id: npt.NDArray[np.object_]
    created_ns: IntArray
    source: npt.NDArray[np.object_]
    loan_type: npt.NDArray[np.object_]
    credit_band: npt.NDArray[np.object_]
    loan_amount_usd: FloatArray
    quoted_rate_pct: FloatArray
    timeline_statement: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.lead_id)


def _prepare_leads(leads: pd.DataFrame) -> _Leads:
    required = ("lead_id", "officer_id", "created_at", "source", "loan_type")
    _require(leads, "leads", (*required, "loan_amount_usd", "quoted_rate_pct"))
    lead_id = _text(leads["lead_id"])
    duplicated = pd.Series(lead_id).duplicated()
    if duplicated.any():
        raise FeatureInputError(
            f"leads has lead_id '{lead_id[duplicated.to_numpy().argmax()]}' more than once; "
            "pass one row per lead"
        )
    columns: dict[str, npt.NDArray[np.object_]] = {}
    for column, categories in _LEAD_CATEGORIES.items():
        values = leads[column] if column in leads.columns else pd.Series("unknown", leads.index)
        text = _text(values)
        if column == "credit_band":
            text[text == ""] = "unknown"
        bad = ~pd.Series(text).isin(categories).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise FeatureInputError(
                f"leads.{column} of lead '{lead_id[row]}' is '{text[row]}'; "
                f"expected one of {list(categories)}"
            )
        columns[column] = text
    statement = (
        _text(leads["timeline_statement"])
        if "timeline_statement" in leads.columns
        else np.full(len(leads), "", dtype=object)
    )
    return _Leads(
        lead_id=lead_id,
        officer_id=_text(leads["officer_id"]),
        created_ns=_utc_ns(leads["created_at"], "leads.created_at"),
        source=columns["source"],
        loan_type=columns["loan_type"],
        credit_band=columns["credit_band"],
        loan_amount_usd=leads["loan_amount_usd"].to_numpy(dtype=np.float64, na_value=np.nan),
        quoted_rate_pct=leads["quoted_rate_pct"].to_numpy(dtype=np.float64, na_value=np.nan),
        timeline_statement=statement,
    )


@dataclass(frozen=True, slots=True)
class _Events:
    """The events of known leads, sorted by (lead, time): parallel arrays."""

    lead: IntArray
    t_ns: IntArray
    kind: npt.NDArray[np.int8]
    channel: npt.NDArray[np.int8]
    outcome: npt.NDArray[np.int8]
    topic: npt.NDArray[np.int8]
    page: npt.NDArray[np.object_]
    text: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.lead)

    def of(self, *types: EventType) -> BoolArray:
        codes = [_EVENT_TYPES.index(t) for t in types]
        return np.isin(self.kind, codes)


def _optional(events: pd.DataFrame, column: str) -> pd.Series:
    if column in events.columns:
        return events[column]
    return pd.Series(pd.NA, index=events.index, dtype="string")


def _prepare_events(events: pd.DataFrame, leads: _Leads) -> _Events:
    """Validate, keep events of known leads, and return them unsorted (sorting needs ranks)."""
    _require(events, "events", ("lead_id", "occurred_at", "event_type"))
    lead = _index_of(events["lead_id"], pd.Index(leads.lead_id))
    known = lead >= 0
    events = events.loc[known]
    event_ids = _optional(events, "event_id")
    kind = _codes(events["event_type"], _EVENT_TYPES)
    if (kind < 0).any():
        row = int((kind < 0).argmax())
        raise FeatureInputError(
            f"event '{event_ids.iloc[row]}' has event_type '{events['event_type'].iloc[row]}'; "
            f"expected one of {list(_EVENT_TYPES)}"
        )
    outcome = _codes(_optional(events, "call_outcome"), _CALL_OUTCOMES)
    bad_call = (kind == _EVENT_TYPES.index(EventType.CALL)) & (outcome < 0)
    if bad_call.any():
        row = int(bad_call.argmax())
        raise FeatureInputError(
            f"call event '{event_ids.iloc[row]}' has no valid call_outcome; "
            f"expected one of {list(_CALL_OUTCOMES)}"
        )
    return _Events(
        lead=lead[known],
        t_ns=_utc_ns(events["occurred_at"], "events.occurred_at"),
        kind=kind,
        channel=_codes(_optional(events, "channel"), _CHANNELS),
        outcome=outcome,
        topic=_codes(_optional(events, "question_topic"), _TOPICS),
        page=_text(_optional(events, "page")),
        text=_text(_optional(events, "text")),
    )


def _sorted_events(events: _Events, order: IntArray) -> _Events:
    return _Events(
        lead=events.lead[order],
        t_ns=events.t_ns[order],
        kind=events.kind[order],
        channel=events.channel[order],
        outcome=events.outcome[order],
        topic=events.topic[order],
        page=events.page[order],
        text=events.text[order],
    )


def _market_rate_at(rates: pd.DataFrame, as_of_ns: IntArray) -> FloatArray:
    """The 30-year rate dated on or before each as-of's date (NaN when none is known yet)."""
    _require(rates, "rates", ("date", "rate_30y_pct"))
    known = rates.loc[rates["rate_30y_pct"].notna()]
    try:
        dates = pd.to_datetime(known["date"].astype(str), format="%Y-%m-%d", utc=True)
    except ValueError as error:
        raise FeatureInputError(f"rates.date must be 'YYYY-MM-DD': {error}") from error
    by_date = (
        pd.DataFrame({"t": dates.to_numpy(dtype="datetime64[ns]").view(np.int64)})
        .assign(rate=known["rate_30y_pct"].to_numpy(dtype=np.float64))
        .drop_duplicates("t", keep="last")
        .sort_values("t")
    )
    # A rate dated D is known from D 00:00 UTC on.
    position = np.searchsorted(by_date["t"].to_numpy(), as_of_ns, side="right") - 1
    values = by_date["rate"].to_numpy()
    return np.where(
        position >= 0, values[np.maximum(position, 0)] if len(values) else np.nan, np.nan
    )


# -- point-in-time positions --------------------------------------------------------------------


def _cumulative(flag: BoolArray) -> IntArray:
    """cum[i] = number of flagged events among the first i (length n + 1)."""
    out = np.zeros(len(flag) + 1, dtype=np.int64)
    np.cumsum(flag, out=out[1:])
    return out


def _last_flagged(flag: BoolArray) -> IntArray:
    """last[i] = index of the last flagged event among the first i, or -1 (length n + 1)."""
    out = np.full(len(flag) + 1, -1, dtype=np.int64)
    out[1:] = np.maximum.accumulate(np.where(flag, np.arange(len(flag)), -1))
    return out


@dataclass(frozen=True, slots=True)
class _Rows:
    """Where each snapshot row's lead's events start and where its as-of (and windows) fall."""

    start: IntArray
    at: IntArray
    window_at: dict[int, IntArray]

    def count(self, flag: BoolArray) -> IntArray:
        cum = _cumulative(flag)
        return cum[self.at] - cum[self.start]

    def count_in_window(self, flag: BoolArray, days: int) -> IntArray:
        cum = _cumulative(flag)
        return cum[self.at] - cum[self.window_at[days]]

    def last(self, flag: BoolArray) -> IntArray:
        """Index of the row's last flagged event at or before as_of, or -1."""
        index = _last_flagged(flag)[self.at]
        return np.where(index >= self.start, index, -1)


def _keys(lead: IntArray, rank: IntArray) -> IntArray:
    """One sortable int64 per (lead, time rank): exact, unlike a combined timestamp."""
    return (lead.astype(np.int64) << 32) | rank


def _time_of(index: IntArray, t_ns: IntArray) -> FloatArray:
    """Epoch seconds of the indexed events, NaN where index is -1."""
    if len(t_ns) == 0:
        return np.full(len(index), np.nan)
    return np.where(index >= 0, t_ns[np.maximum(index, 0)] / NS_PER_SECOND, np.nan)


def _ratio(numerator: IntArray, denominator: IntArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


# -- grid -------------------------------------------------------------------------------------


def _closed_ns(events: _Events, n_leads: int) -> IntArray:
    """When each lead stops being open (application or opt-out of every channel); never = max."""
    applied = np.full(n_leads, _NEVER, dtype=np.int64)
    done = events.of(EventType.APPLICATION_SUBMITTED, EventType.LOAN_FUNDED)
    np.minimum.at(applied, events.lead[done], events.t_ns[done])
    opted = np.full((n_leads, len(_CHANNELS)), _NEVER, dtype=np.int64)
    opt_out = events.of(EventType.OPT_OUT) & (events.channel >= 0)
    np.minimum.at(opted, (events.lead[opt_out], events.channel[opt_out]), events.t_ns[opt_out])
    dnc = events.of(EventType.DNC_REQUEST)
    for channel in (Channel.CALL, Channel.TEXT):
        column = np.full(int(dnc.sum()), _CHANNELS.index(channel))
        np.minimum.at(opted, (events.lead[dnc], column), events.t_ns[dnc])
    closed: IntArray = np.minimum(applied, opted.max(axis=1))
    return closed


def _as_of_grid(
    leads: _Leads,
    events: _Events,
    as_of_times: pd.DatetimeIndex | None,
    start: datetime | pd.Timestamp | None,
    end: datetime | pd.Timestamp | None,
) -> IntArray:
    if as_of_times is not None:
        grid = _utc_ns(pd.Series(pd.DatetimeIndex(as_of_times)), "as_of_times")
    elif len(leads) == 0:
        grid = np.empty(0, dtype=np.int64)
    else:
        first = leads.created_ns.min() // NS_PER_DAY * NS_PER_DAY
        last_event = events.t_ns.max() if len(events) else leads.created_ns.max()
        last = last_event // NS_PER_DAY * NS_PER_DAY
        grid = np.arange(first, last + 1, NS_PER_DAY, dtype=np.int64)
    if start is not None:
        grid = grid[grid >= _timestamp_ns(start, "start")]
    if end is not None:
        grid = grid[grid <= _timestamp_ns(end, "end")]
    return np.unique(grid)


def _timestamp_ns(moment: datetime | pd.Timestamp, name: str) -> int:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise FeatureInputError(f"{name} has no time zone; pass e.g. pd.Timestamp(..., tz='UTC')")
    return int(stamp.tz_convert("UTC").value)


# -- feature groups -----------------------------------------------------------------------------


def _web_features(ev: _Events, rows: _Rows) -> dict[str, npt.NDArray[Any]]:
    visit = ev.of(EventType.WEB_VISIT)
    out: dict[str, npt.NDArray[Any]] = {
        f"web_visits_{days}d": rows.count_in_window(visit, days) for days in WINDOW_DAYS
    }
    # A page's first visit by the lead: (lead, page) pairs are unique at their first index.
    paged = np.flatnonzero(visit & (ev.page != ""))
    page_code = pd.factorize(ev.page[paged])[0].astype(np.int64)
    _, first = np.unique((ev.lead[paged] << 32) | page_code, return_index=True)
    first_visit = np.zeros(len(ev), dtype=bool)
    first_visit[paged[first]] = True
    out["distinct_pages"] = rows.count(first_visit)
    out["last_visit_at_epoch_s"] = _time_of(rows.last(visit), ev.t_ns)
    return out


def _message_features(ev: _Events, rows: _Rows) -> dict[str, npt.NDArray[Any]]:
    sent = rows.count(ev.of(EventType.EMAIL_SENT))
    opened = rows.count(ev.of(EventType.EMAIL_OPENED))
    clicked = rows.count(ev.of(EventType.EMAIL_CLICKED))
    return {
        "emails_sent": sent,
        "emails_opened": opened,
        "emails_clicked": clicked,
        "email_open_rate": _ratio(opened, sent),
        "email_click_rate": _ratio(clicked, sent),
        "texts_sent": rows.count(ev.of(EventType.TEXT_SENT)),
        "texts_replied": rows.count(ev.of(EventType.TEXT_REPLIED)),
    }


def _first_replies(ev: _Events, lead_start: IntArray) -> tuple[BoolArray, FloatArray]:
    """Which events are a touch's first reply, and that reply's minutes since the touch."""
    is_reply = np.zeros(len(ev), dtype=bool)
    minutes = np.full(len(ev), np.nan)
    pairs = ((EventType.TEXT_SENT, EventType.TEXT_REPLIED), (EventType.EMAIL_SENT,
             EventType.EMAIL_CLICKED))  # fmt: skip
    for touch_type, reply_type in pairs:
        replies = np.flatnonzero(ev.of(reply_type))
        touch = _last_flagged(ev.of(touch_type))[replies + 1]
        answered = touch >= lead_start[ev.lead[replies]]  # a touch of this lead precedes it
        replies, touch = replies[answered], touch[answered]
        first = np.ones(len(touch), dtype=bool)
        first[1:] = touch[1:] != touch[:-1]
        replies, touch = replies[first], touch[first]
        is_reply[replies] = True
        minutes[replies] = (ev.t_ns[replies] - ev.t_ns[touch]) / (60 * NS_PER_SECOND)
    return is_reply, minutes


def _reply_features(
    ev: _Events, rows: _Rows, lead_start: IntArray, touches_total: npt.NDArray[Any]
) -> dict[str, npt.NDArray[Any]]:
    is_reply, minutes = _first_replies(ev, lead_start)
    replies = np.flatnonzero(is_reply)
    median_so_far = np.full(len(ev), np.nan)
    if len(replies):
        expanding = (
            pd.Series(minutes[replies]).groupby(ev.lead[replies], sort=True).expanding().median()
        )
        median_so_far[replies] = expanding.droplevel(0).sort_index().to_numpy()
    last_reply = rows.last(is_reply)
    valid = last_reply >= 0
    safe = np.maximum(last_reply, 0)
    answered_call = ev.of(EventType.CALL) & np.isin(
        ev.outcome, [_CALL_OUTCOMES.index(o) for o in ANSWERED_CALL_OUTCOMES]
    )
    answered = rows.count(is_reply | answered_call)
    return {
        "reply_minutes_median": np.where(valid, median_so_far[safe] if len(ev) else 0.0, np.nan),
        "reply_minutes_last": np.where(valid, minutes[safe] if len(ev) else 0.0, np.nan),
        "touches_answered_share": _ratio(answered, touches_total),
    }


def _question_features(ev: _Events, rows: _Rows) -> dict[str, npt.NDArray[Any]]:
    asked = ev.of(EventType.QUESTION_ASKED)
    out: dict[str, npt.NDArray[Any]] = {"questions_total": rows.count(asked)}
    for index, topic in enumerate(_TOPICS):
        out[f"questions_{topic}"] = rows.count(asked & (ev.topic == index))
    return out


def _touch_features(ev: _Events, rows: _Rows) -> dict[str, npt.NDArray[Any]]:
    touch = ev.of(*OUTBOUND_EVENT_TYPES)
    inbound = ev.of(*INBOUND_EVENT_TYPES)
    call = ev.of(EventType.CALL)
    last_inbound = rows.last(inbound)
    touches = _cumulative(touch)
    since = np.where(last_inbound >= 0, last_inbound + 1, rows.start)
    last_call = rows.last(call)
    outcome_code = np.zeros(len(rows.at), dtype=np.int64)  # 0: "none"
    if len(ev):
        outcome_code = np.where(last_call >= 0, ev.outcome[np.maximum(last_call, 0)] + 1, 0)
    intent = (ev.of(EventType.WEB_VISIT) & _intent_page(ev.page)) | (
        ev.of(EventType.QUESTION_ASKED) & (ev.topic == _TOPICS.index(QuestionTopic.PRE_APPROVAL))
    )
    return {
        "touches_total": touches[rows.at] - touches[rows.start],
        "touches_call": rows.count(call),
        "touches_text": rows.count(ev.of(EventType.TEXT_SENT)),
        "touches_email": rows.count(ev.of(EventType.EMAIL_SENT)),
        "touches_since_last_inbound": touches[rows.at] - touches[since],
        "last_call_outcome": np.asarray(LAST_CALL_OUTCOMES, dtype=object)[outcome_code],
        "inbound_7d": rows.count_in_window(inbound, 7),
        "last_touch_at_epoch_s": _time_of(rows.last(touch), ev.t_ns),
        "last_inbound_at_epoch_s": _time_of(last_inbound, ev.t_ns),
        "last_intent_at_epoch_s": _time_of(rows.last(intent), ev.t_ns),
    }


def _intent_page(pages: npt.NDArray[np.object_]) -> BoolArray:
    codes, unique = pd.factorize(pages)
    matches = np.array([bool(APPLICATION_INTENT_PAGE.search(p)) for p in unique], dtype=bool)
    return matches[codes] if len(unique) else np.zeros(len(pages), dtype=bool)


def _timeline_ready(
    leads: _Leads, ev: _Events, lead_rank: IntArray, event_rank: IntArray, rows_key: IntArray
) -> FloatArray:
    """ready_at (epoch s) of the latest timing statement at or before each row's as-of."""
    statements = np.flatnonzero(ev.of(EventType.STATEMENT) & (ev.text != ""))
    lead = np.concatenate([np.arange(len(leads), dtype=np.int64), ev.lead[statements]])
    rank = np.concatenate([lead_rank, event_rank[statements]])
    t_ns = np.concatenate([leads.created_ns, ev.t_ns[statements]])
    text = np.concatenate([leads.timeline_statement, ev.text[statements]])
    ready = np.full(len(text), np.nan)
    about_timing = np.zeros(len(text), dtype=bool)
    for i in np.flatnonzero(text != ""):
        stated_at = _EPOCH + timedelta(microseconds=int(t_ns[i]) // 1000)
        parsed = parse_timeline(str(text[i]), stated_at)
        about_timing[i] = parsed.rule != "unknown"
        if parsed.ready_at is not None:
            ready[i] = parsed.ready_at.timestamp()
    keep = np.flatnonzero(about_timing)
    keys = _keys(lead[keep], rank[keep])
    order = np.argsort(keys, kind="stable")  # ties: the lead's own statement, then events
    keys, ready = keys[order], ready[keep][order]
    if len(keys) == 0:
        return np.full(len(rows_key), np.nan)
    position = np.maximum(np.searchsorted(keys, rows_key, side="right") - 1, 0)
    same_lead = (keys[position] >> 32) == (rows_key >> 32)
    same_lead &= keys[position] <= rows_key
    return np.where(same_lead, ready[position], np.nan)


# -- public API ---------------------------------------------------------------------------------


def build_snapshots(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    as_of_times: pd.DatetimeIndex | None = None,
    start: datetime | pd.Timestamp | None = None,
    end: datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Stored features of every open lead at each as-of time.

    Default as-of times: every day at 00:00 UTC from the first lead's creation day to the last
    event's day; ``as_of_times`` replaces them; ``start``/``end`` (inclusive) bound either.
    Returns SNAPSHOT_KEY_COLUMNS + STORED_COLUMNS, one row per (open lead, as-of), ordered by
    lead (as in ``leads``) then as-of.
    """
    lead_table = _prepare_leads(leads)
    raw = _prepare_events(events, lead_table)
    grid = _as_of_grid(lead_table, raw, as_of_times, start, end)

    closed = _closed_ns(raw, len(lead_table))
    first = np.searchsorted(grid, lead_table.created_ns, side="left")
    stop = np.searchsorted(grid, closed, side="left")
    per_lead = np.maximum(stop - first, 0)
    row_lead = np.repeat(np.arange(len(lead_table), dtype=np.int64), per_lead)
    offsets = np.repeat(first - (np.cumsum(per_lead) - per_lead), per_lead)
    as_of_index = np.arange(len(row_lead), dtype=np.int64) + offsets

    # Exact (lead, time) keys: rank every moment we compare, then pack lead and rank in an int64.
    moments = [raw.t_ns, lead_table.created_ns, grid]
    moments += [grid - days * NS_PER_DAY for days in WINDOW_DAYS]
    universe = np.unique(np.concatenate(moments))
    if len(universe) >= 2**32 or len(lead_table) >= 2**31:
        raise FeatureInputError("too many distinct timestamps or leads for one build; split it")
    event_rank = np.searchsorted(universe, raw.t_ns).astype(np.int64)
    order = np.argsort(_keys(raw.lead, event_rank), kind="stable")
    ev = _sorted_events(raw, order)
    event_rank = event_rank[order]
    event_keys = _keys(ev.lead, event_rank)
    lead_start = np.searchsorted(
        event_keys, np.arange(len(lead_table), dtype=np.int64) << 32, side="left"
    )

    def position(moment_ns: IntArray) -> IntArray:
        rank = np.searchsorted(universe, moment_ns).astype(np.int64)
        return np.searchsorted(event_keys, _keys(row_lead, rank[as_of_index]), side="right")

    rows_key = _keys(row_lead, np.searchsorted(universe, grid).astype(np.int64)[as_of_index])
    rows = _Rows(
        start=lead_start[row_lead],
        at=np.searchsorted(event_keys, rows_key, side="right"),
        window_at={days: position(grid - days * NS_PER_DAY) for days in WINDOW_DAYS},
    )

    market_rate = _market_rate_at(rates, grid)
    columns: dict[str, npt.NDArray[Any]] = {
        "source": lead_table.source[row_lead],
        "loan_type": lead_table.loan_type[row_lead],
        "loan_amount_usd": lead_table.loan_amount_usd[row_lead],
        "credit_band": lead_table.credit_band[row_lead],
        "rate_gap_pct": lead_table.quoted_rate_pct[row_lead] - market_rate[as_of_index],
    }
    columns |= _web_features(ev, rows)
    columns |= _message_features(ev, rows)
    columns |= _question_features(ev, rows)
    touch_columns = _touch_features(ev, rows)
    columns |= touch_columns
    columns |= _reply_features(ev, rows, lead_start, touch_columns["touches_total"])
    columns["created_at_epoch_s"] = lead_table.created_ns[row_lead] / NS_PER_SECOND
    lead_rank = np.searchsorted(universe, lead_table.created_ns).astype(np.int64)
    columns["timeline_ready_at_epoch_s"] = _timeline_ready(
        lead_table, ev, lead_rank, event_rank, rows_key
    )

    frame: dict[str, object] = {
        "lead_id": pd.array(lead_table.lead_id[row_lead], dtype="string"),
        "officer_id": pd.array(lead_table.officer_id[row_lead], dtype="string"),
        "as_of": pd.to_datetime(grid[as_of_index], unit="ns", utc=True),
    }
    for name, dtype in STORED_COLUMNS.items():
        values = columns[name]
        frame[name] = (
            pd.array(values, dtype="string")
            if dtype == "string"
            else values.astype(dtype, copy=False)
        )
        del columns[name]  # hand each column over instead of holding two copies
    # copy=False keeps each column its own block: no consolidation copy of a multi-GB grid.
    return pd.DataFrame(frame, copy=False)


def _epoch_seconds(values: pd.Series | pd.Timestamp | datetime, n_rows: int) -> FloatArray:
    if isinstance(values, pd.Series):
        if len(values) != n_rows:
            raise FeatureInputError(f"as_of has {len(values)} values for {n_rows} stored rows")
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            stamps = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
            seconds = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64) / NS_PER_SECOND
            return np.where(stamps.isna().to_numpy(), np.nan, seconds)
        if pd.api.types.is_numeric_dtype(values.dtype):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)  # already epoch seconds
        raise FeatureInputError(
            f"as_of must be tz-aware datetimes or epoch seconds (got {values.dtype})"
        )
    return np.full(n_rows, _timestamp_ns(values, "as_of") / NS_PER_SECOND)


def _stored_float(stored: pd.DataFrame, column: str) -> FloatArray:
    if column not in stored.columns:
        raise FeatureInputError(
            f"stored rows lack '{column}'; derive_clock_features needs {list(TIMESTAMP_COLUMNS)} "
            "and inbound_7d (STORED_COLUMNS)"
        )
    return pd.to_numeric(stored[column]).to_numpy(dtype=np.float64, na_value=np.nan)


def derive_clock_features(
    stored: pd.DataFrame, as_of: pd.Series | pd.Timestamp | datetime
) -> pd.DataFrame:
    """Clock features (CLOCK_COLUMNS) of stored rows at as_of: pure and vectorized.

    ``as_of`` is one tz-aware moment or a Series aligned with ``stored`` by position (tz-aware
    datetimes, or float epoch seconds as a Feast request field carries them). days_since_* are
    (as_of - moment) in days, NaN when the moment is unknown, and never negative (a request a
    moment before the stored row's last event reads 0). timeline_months is the months from as_of
    to the stated ready date, floored at 0, NaN when unknown; the segments follow
    features.segments.
    """
    now_s = _epoch_seconds(as_of, len(stored))

    def days_since(column: str) -> FloatArray:
        return np.maximum((now_s - _stored_float(stored, column)) / SECONDS_PER_DAY, 0.0)

    ready_s = _stored_float(stored, "timeline_ready_at_epoch_s")
    timeline_months = np.maximum((ready_s - now_s) / SECONDS_PER_DAY / DAYS_PER_MONTH, 0.0)
    days_since_created = days_since("created_at_epoch_s")
    days_since_last_inbound = days_since("last_inbound_at_epoch_s")
    clock = {
        "days_since_created": days_since_created,
        "days_since_last_touch": days_since("last_touch_at_epoch_s"),
        "days_since_last_inbound": days_since_last_inbound,
        "days_since_last_visit": days_since("last_visit_at_epoch_s"),
        "timeline_months": timeline_months,
        "timeline_segment": timeline_segments(timeline_months),
        "engagement_tier": engagement_tiers(
            days_since_last_inbound,
            _stored_float(stored, "inbound_7d"),
            days_since("last_intent_at_epoch_s"),
            days_since_created,
        ),
    }
    return pd.DataFrame({name: clock[name] for name in CLOCK_COLUMNS}, index=stored.index)


def model_frame(stored_with_as_of: pd.DataFrame) -> pd.DataFrame:
    """The model input (FEATURE_NAMES, in order) of stored rows that carry their ``as_of``.

    ints are int64, floats float64, categories str; the index is the input's.
    """
    _require(stored_with_as_of, "stored rows", ("as_of",))
    clock = derive_clock_features(stored_with_as_of, stored_with_as_of["as_of"])
    columns: dict[str, object] = {}
    for name in FEATURE_NAMES:
        source = clock if name in CLOCK_FEATURES else stored_with_as_of
        if name not in source.columns:
            raise FeatureInputError(f"stored rows lack '{name}'; build them with build_snapshots()")
        kind = FEATURES_BY_NAME[name].kind
        values = source[name]
        if kind == "int":
            columns[name] = values.to_numpy(dtype=np.int64)
        elif kind == "float":
            columns[name] = pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            columns[name] = values.astype(str).to_numpy(dtype=object)
    return pd.DataFrame(columns, index=stored_with_as_of.index, copy=False)


def compute_features(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    rates: pd.DataFrame,
    as_of: pd.Timestamp | datetime,
) -> pd.DataFrame:
    """Model inputs (lead_id + FEATURE_NAMES) of every lead open at one as_of.

    The same code path as the batch build: build_snapshots at one as-of, then model_frame.
    """
    as_of_times = pd.DatetimeIndex([pd.Timestamp(_timestamp_ns(as_of, "as_of"), tz="UTC")])
    snapshots = build_snapshots(leads, events, rates, as_of_times=as_of_times)
    features = model_frame(snapshots)
    features.insert(0, "lead_id", snapshots["lead_id"].astype(str).to_numpy(dtype=object))
    return features.reset_index(drop=True)


def label_snapshots(
    snapshots: pd.DataFrame, events: pd.DataFrame, horizon_days: int = 30
) -> pd.Series:
    """Did each snapshot's lead submit an application in (as_of, as_of + horizon_days]?"""
    _require(snapshots, "snapshots", ("lead_id", "as_of"))
    _require(events, "events", ("lead_id", "occurred_at", "event_type"))
    if horizon_days <= 0:
        raise FeatureInputError(f"horizon_days must be positive, got {horizon_days}")
    applied = events.loc[events["event_type"] == EventType.APPLICATION_SUBMITTED.value]
    applied_lead = _text(applied["lead_id"])
    lead_index = pd.Index(pd.unique(applied_lead))
    app_lead = lead_index.get_indexer(pd.Index(applied_lead)).astype(np.int64)
    app_t = _utc_ns(applied["occurred_at"], "events.occurred_at")
    row_lead = lead_index.get_indexer(pd.Index(_text(snapshots["lead_id"]))).astype(np.int64)
    as_of = _utc_ns(snapshots["as_of"], "snapshots.as_of")
    horizon_end = as_of + horizon_days * NS_PER_DAY
    universe = np.unique(np.concatenate([app_t, as_of, horizon_end]))
    app_keys = np.sort(_keys(app_lead, np.searchsorted(universe, app_t).astype(np.int64)))
    known = row_lead >= 0
    lead = np.where(known, row_lead, 0)

    def applications_up_to(moment: IntArray) -> IntArray:
        rank = np.searchsorted(universe, moment).astype(np.int64)
        return np.searchsorted(app_keys, _keys(lead, rank), side="right")

    within = applications_up_to(horizon_end) - applications_up_to(as_of)
    return pd.Series(
        known & (within > 0), index=snapshots.index, name=f"applied_within_{horizon_days}d"
    )
