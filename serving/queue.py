"""The daily call queue of one loan officer: eligibility, lanes, ranking and the capacity cut."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import Channel
from serving.compliance import (
    LEAD_FIELDS,
    ComplianceInputError,
    Rule,
    assess_channels,
    best_time_to_call,
    calling_window,
    utc_timestamps,
)


class Lane(StrEnum):
    """Queue lanes, shown in this order."""

    NEW = "new"
    TRIGGER = "trigger"
    RANKED = "ranked"


RankBy = Literal["probability", "expected_value"]

RATE_DROP_TRIGGER_PCT: Final = 0.25
"""A rate drop is a trigger when the market rate is more than this many points below the lead's
quoted rate: about the smallest gap at which a refinance or a re-quote pays for itself."""

TIMELINE_SURFACE_SHARE: Final = 2.0 / 3.0
"""A stated timeline of N months surfaces once this share of it has elapsed (DOMAIN.md: said
'6 months' -> surface at month 4) and stays a trigger until month N."""

TIMELINE_READY_HORIZON: Final = timedelta(days=30)
"""A known ready date within this horizon is a trigger."""

INBOUND_TRIGGER_WINDOW: Final = timedelta(hours=1)
"""An inbound action (visit, open, click, reply) this recent is a trigger: the lead is warm now."""

DAYS_PER_MONTH: Final = 365.25 / 12

SEGMENT_COLUMNS: Final[tuple[str, ...]] = (
    "timeline_segment",
    "loan_type",
    "source",
    "engagement_tier",
)
"""Segment columns copied into each item when the candidates have no 'segments' column."""

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    *LEAD_FIELDS,
    "officer_id",
    "created_at",
    "first_touch_at",
    "probability",
)
"""Columns build_queue cannot do without. Trigger signals (last_inbound_at, quoted_rate_pct,
market_rate_pct, timeline_ready_at, timeline_stated_months), loan_amount_usd, tier, segments and
channel signals (texts_replied, calls_connected) are optional: absent means 'no signal'."""


class QueueInputError(ValueError):
    """The arguments or candidate rows handed to build_queue cannot make a queue."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One lead the officer should contact, with what to show next to it."""

    rank: int
    lane: Lane
    lead_id: str
    probability: float
    expected_value_usd: float | None
    tier: str | None
    segments: dict[str, str]
    channel: Channel
    state: str
    local_zone: str
    local_time_now: str
    best_time_to_call: str
    window_opens_local: str
    window_closes_local: str
    trigger_reasons: tuple[str, ...]
    waiting_minutes: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "rank": self.rank,
            "lane": str(self.lane),
            "lead_id": self.lead_id,
            "probability": self.probability,
            "expected_value_usd": self.expected_value_usd,
            "tier": self.tier,
            "segments": dict(self.segments),
            "channel": str(self.channel),
            "state": self.state,
            "local_zone": self.local_zone,
            "local_time_now": self.local_time_now,
            "best_time_to_call": self.best_time_to_call,
            "window_opens_local": self.window_opens_local,
            "window_closes_local": self.window_closes_local,
            "trigger_reasons": list(self.trigger_reasons),
            "waiting_minutes": self.waiting_minutes,
        }


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A lead kept out of the queue, the rule that kept it out and when it may return."""

    lead_id: str
    rule: Rule
    reason: str
    channel: Channel
    next_allowed_utc: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "lead_id": self.lead_id,
            "rule": str(self.rule),
            "reason": self.reason,
            "channel": str(self.channel),
            "next_allowed_utc": (
                None if self.next_allowed_utc is None else self.next_allowed_utc.isoformat()
            ),
        }


@dataclass(frozen=True, slots=True)
class QueueResult:
    """The queue, the leads held back, and the counts behind the cut."""

    officer_id: str
    built_at_utc: datetime
    rank_by: RankBy
    capacity: int
    calls_made_today: int
    capacity_left: int
    n_candidates: int
    n_eligible: int
    n_beyond_capacity: int
    items: tuple[QueueItem, ...] = field(default_factory=tuple)
    held_back: tuple[HeldBack, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "officer_id": self.officer_id,
            "built_at_utc": self.built_at_utc.isoformat(),
            "rank_by": self.rank_by,
            "capacity": self.capacity,
            "calls_made_today": self.calls_made_today,
            "capacity_left": self.capacity_left,
            "n_candidates": self.n_candidates,
            "n_eligible": self.n_eligible,
            "n_beyond_capacity": self.n_beyond_capacity,
            "items": [item.to_dict() for item in self.items],
            "held_back": [held.to_dict() for held in self.held_back],
        }


def _number(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    """A numeric column as floats; an absent column is all NaN (no signal)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as error:
        raise QueueInputError(f"column '{column}' must be numeric: {error}") from error


def _timestamps(frame: pd.DataFrame, column: str) -> npt.NDArray[np.int64]:
    """A UTC timestamp column as int64 nanoseconds with NaT as the minimum int64."""
    if column not in frame.columns:
        return np.full(len(frame), np.iinfo(np.int64).min, dtype=np.int64)
    try:
        naive_utc = utc_timestamps(frame, column).dt.tz_localize(None)
    except ComplianceInputError as error:
        raise QueueInputError(str(error)) from error
    nanoseconds: npt.NDArray[np.int64] = naive_utc.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return nanoseconds


_NAT: Final = np.iinfo(np.int64).min


def _check_arguments(
    candidates: pd.DataFrame,
    officer_id: str,
    at_utc: datetime,
    capacity: int,
    calls_made_today: int,
    rank_by: str,
    compensation_bps: float,
) -> None:
    if at_utc.tzinfo is None or at_utc.utcoffset() is None:
        raise QueueInputError("at_utc has no time zone; pass an aware datetime in UTC")
    if capacity < 0:
        raise QueueInputError(f"capacity must be 0 or more calls, got {capacity}")
    if calls_made_today < 0:
        raise QueueInputError(f"calls_made_today must be 0 or more, got {calls_made_today}")
    if rank_by not in ("probability", "expected_value"):
        raise QueueInputError(f"rank_by must be 'probability' or 'expected_value', got '{rank_by}'")
    if not math.isfinite(compensation_bps) or compensation_bps < 0:
        raise QueueInputError(
            f"compensation_bps must be a finite number of basis points >= 0, got {compensation_bps}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in candidates.columns]
    if missing:
        raise QueueInputError(f"candidates lack column(s) {missing}; expected {REQUIRED_COLUMNS}")
    if rank_by == "expected_value" and "loan_amount_usd" not in candidates.columns:
        raise QueueInputError("rank_by='expected_value' needs the column 'loan_amount_usd'")
    others = candidates["officer_id"].astype(str) != officer_id
    if others.any():
        example = candidates.loc[others, "lead_id"].iloc[0]
        raise QueueInputError(
            f"{int(others.sum())} candidate(s) belong to another officer than '{officer_id}' "
            f"(e.g. lead '{example}'); pass only that officer's open leads"
        )
    duplicated = candidates["lead_id"].duplicated()
    if duplicated.any():
        example = candidates.loc[duplicated, "lead_id"].iloc[0]
        raise QueueInputError(f"lead '{example}' appears more than once in candidates")


def suggested_channel(candidates: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Call by default; text when the lead consented to texts and either did not consent to
    calls or has replied to more of our texts than it answered calls (texts_replied >
    calls_connected; absent counts are 0). The other channel is the fallback."""
    consent_call, consent_text = (
        np.where(pd.isna(values), False, values).astype(bool)
        for values in (
            candidates[c].to_numpy(dtype=object) for c in ("consent_call", "consent_text")
        )
    )
    replied = np.nan_to_num(_number(candidates, "texts_replied"))
    connected = np.nan_to_num(_number(candidates, "calls_connected"))
    prefer_text = consent_text & (~consent_call | (replied > connected))
    return np.where(prefer_text, str(Channel.TEXT), str(Channel.CALL)).astype(object)


def build_queue(
    candidates: pd.DataFrame,
    *,
    officer_id: str,
    at_utc: datetime,
    capacity: int = 40,
    calls_made_today: int = 0,
    rank_by: RankBy = "probability",
    compensation_bps: float = 100.0,
    contacts: pd.DataFrame | None = None,
) -> QueueResult:
    """The officer's queue at at_utc: eligible leads in lanes, cut at the capacity left today.

    Eligibility comes first and is final: a lead that may not be contacted now on its suggested
    channel (or the fallback channel) is held back with its rule and reason, never queued.
    Lanes: 'new' (never contacted, oldest waiting first), 'trigger' (rate drop, timeline coming
    due, inbound in the last hour), 'ranked' (the rest); trigger and ranked sort by probability
    or by expected value = probability x loan_amount_usd x compensation_bps / 10,000.
    Every item (call or text) uses one unit of capacity; capacity_left = capacity minus
    calls_made_today, between 0 and capacity. contacts: our recent outbound contacts
    (lead_id, occurred_at UTC, channel) for the FL/OK/MD caps.
    """
    _check_arguments(
        candidates, officer_id, at_utc, capacity, calls_made_today, rank_by, compensation_bps
    )
    at = at_utc.astimezone(UTC)
    n = len(candidates)
    capacity_left = max(0, min(capacity, capacity - calls_made_today))
    lead_ids = candidates["lead_id"].astype(str).to_numpy(dtype=object)
    created = _timestamps(candidates, "created_at")
    if (created == _NAT).any():
        example = lead_ids[created == _NAT][0]
        raise QueueInputError(f"created_at of lead '{example}' is missing")
    probability = _number(candidates, "probability")
    bad = np.isnan(probability) | (probability < 0) | (probability > 1)
    if bad.any():
        example = lead_ids[bad][0]
        raise QueueInputError(
            f"probability of lead '{example}' is missing or outside [0, 1]; "
            "score every candidate before building the queue"
        )

    try:
        by_channel = assess_channels(
            candidates, at_utc=at, channels=(Channel.CALL, Channel.TEXT), contacts=contacts
        )
    except ComplianceInputError as error:
        raise QueueInputError(str(error)) from error
    preferred = suggested_channel(candidates)
    is_text = preferred == str(Channel.TEXT)
    ok_call = by_channel[Channel.CALL]["eligible"].to_numpy(dtype=bool)
    ok_text = by_channel[Channel.TEXT]["eligible"].to_numpy(dtype=bool)
    ok_preferred = np.where(is_text, ok_text, ok_call)
    ok_fallback = np.where(is_text, ok_call, ok_text)
    eligible = ok_preferred | ok_fallback
    use_text = np.where(ok_preferred, is_text, ~is_text)

    held_back = _held_back(lead_ids, ~eligible, is_text, by_channel)

    loan = _number(candidates, "loan_amount_usd")
    expected_value = probability * loan * compensation_bps / 10_000.0
    score = expected_value if rank_by == "expected_value" else probability
    triggers = _triggers(candidates, at, created)
    any_trigger = triggers.any
    is_new = _timestamps(candidates, "first_touch_at") == _NAT
    lane_order = np.where(is_new, 0, np.where(any_trigger, 1, 2))

    pool = pd.DataFrame(
        {
            "position": np.arange(n),
            "lane_order": lane_order,
            "wait_key": np.where(is_new, created, 0),
            # Higher score first; a lead with no score (no loan amount for EV) goes last.
            "score_key": np.where(is_new, 0.0, np.where(np.isnan(score), np.inf, -score)),
            "lead_id": lead_ids,
        }
    )[eligible]
    ordered = pool.sort_values(["lane_order", "wait_key", "score_key", "lead_id"], kind="stable")
    shown = ordered["position"].to_numpy()[:capacity_left]

    items = _items(
        candidates,
        shown,
        at=at,
        lead_ids=lead_ids,
        lane_order=lane_order,
        probability=probability,
        expected_value=expected_value,
        use_text=use_text,
        local_zones=by_channel[Channel.CALL]["local_zone"].to_numpy(dtype=object),
        triggers=triggers,
    )
    n_eligible = int(eligible.sum())
    return QueueResult(
        officer_id=officer_id,
        built_at_utc=at,
        rank_by=rank_by,
        capacity=capacity,
        calls_made_today=calls_made_today,
        capacity_left=capacity_left,
        n_candidates=n,
        n_eligible=n_eligible,
        n_beyond_capacity=n_eligible - len(items),
        items=items,
        held_back=held_back,
    )


@dataclass(frozen=True, slots=True)
class _Triggers:
    """Each trigger signal for every candidate, computed once, vectorized (NaN/NaT: no signal)."""

    at_ns: int
    created_ns: npt.NDArray[np.int64]
    quoted_pct: npt.NDArray[np.float64]
    market_pct: npt.NDArray[np.float64]
    stated_months: npt.NDArray[np.float64]
    ready_ns: npt.NDArray[np.int64]
    inbound_ns: npt.NDArray[np.int64]
    rate_drop: npt.NDArray[np.bool_]
    timeline_stated: npt.NDArray[np.bool_]
    timeline_ready: npt.NDArray[np.bool_]
    inbound: npt.NDArray[np.bool_]

    @property
    def any(self) -> npt.NDArray[np.bool_]:
        return self.rate_drop | self.timeline_stated | self.timeline_ready | self.inbound

    def reasons(self, i: int) -> tuple[str, ...]:
        """Plain-language trigger reasons of candidate i."""
        out: list[str] = []
        if self.rate_drop[i]:
            quoted, market = self.quoted_pct[i], self.market_pct[i]
            out.append(
                f"market rate {market:.2f}% is {quoted - market:.2f} points below the "
                f"{quoted:.2f}% quoted"
            )
        if self.timeline_stated[i]:
            months = (self.at_ns - int(self.created_ns[i])) / _NS_PER_MONTH
            out.append(
                f"said {round(self.stated_months[i], 1):g} months, {months:.1f} months ago: "
                "timeline coming due"
            )
        if self.timeline_ready[i]:
            ready = pd.Timestamp(int(self.ready_ns[i]), tz=UTC)
            days = (int(self.ready_ns[i]) - self.at_ns) / _NS_PER_DAY
            out.append(f"ready date {ready:%d %b %Y} is {days:.0f} days away")
        if self.inbound[i]:
            minutes = max(0.0, (self.at_ns - int(self.inbound_ns[i])) / 60e9)
            out.append(f"inbound activity {minutes:.0f} min ago")
        return tuple(out)


_NS_PER_DAY: Final = 86_400e9
_NS_PER_MONTH: Final = DAYS_PER_MONTH * _NS_PER_DAY


def _triggers(candidates: pd.DataFrame, at: datetime, created: npt.NDArray[np.int64]) -> _Triggers:
    at_ns = pd.Timestamp(at).value
    quoted = _number(candidates, "quoted_rate_pct")
    market = _number(candidates, "market_rate_pct")
    stated = _number(candidates, "timeline_stated_months")
    ready = _timestamps(candidates, "timeline_ready_at")
    inbound = _timestamps(candidates, "last_inbound_at")
    elapsed_months = (at_ns - created) / _NS_PER_MONTH
    with np.errstate(invalid="ignore"):
        rate_drop = market < quoted - RATE_DROP_TRIGGER_PCT
        said_due = (
            (stated > 0)
            & (elapsed_months >= TIMELINE_SURFACE_SHARE * stated)
            & (elapsed_months <= stated)
        )
    horizon_ns = pd.Timedelta(TIMELINE_READY_HORIZON).value
    recent_ns = pd.Timedelta(INBOUND_TRIGGER_WINDOW).value
    return _Triggers(
        at_ns=at_ns,
        created_ns=created,
        quoted_pct=quoted,
        market_pct=market,
        stated_months=stated,
        ready_ns=ready,
        inbound_ns=inbound,
        rate_drop=rate_drop,
        timeline_stated=said_due,
        timeline_ready=(ready != _NAT) & (ready >= at_ns) & (ready <= at_ns + horizon_ns),
        inbound=(inbound != _NAT) & (inbound > at_ns - recent_ns),
    )


def _held_back(
    lead_ids: npt.NDArray[np.object_],
    held: npt.NDArray[np.bool_],
    is_text: npt.NDArray[np.bool_],
    by_channel: dict[Channel, pd.DataFrame],
) -> tuple[HeldBack, ...]:
    """The preferred channel's rule; the fallback's reason too when the lead consented to it."""
    out: list[HeldBack] = []
    columns = {
        ch: (
            frame["rule"].to_numpy(dtype=object),
            frame["reason"].to_numpy(dtype=object),
            frame["next_allowed_utc"].to_numpy(dtype=object),
        )
        for ch, frame in by_channel.items()
    }
    for i in np.flatnonzero(held):
        first, second = (Channel.TEXT, Channel.CALL) if is_text[i] else (Channel.CALL, Channel.TEXT)
        rule, reason, when = (values[i] for values in columns[first])
        other_rule, other_reason, other_when = (values[i] for values in columns[second])
        text = str(reason)
        if other_rule not in (rule, str(Rule.NO_CONSENT)):
            text = f"{first}: {reason}; {second}: {other_reason}"
        moments = [pd.Timestamp(w) for w in (when, other_when) if not pd.isna(w)]
        next_allowed = min(moments).to_pydatetime() if moments else None
        out.append(HeldBack(str(lead_ids[i]), Rule(rule), text, first, next_allowed))
    return tuple(out)


def _segments(shown_rows: pd.DataFrame) -> list[dict[str, str]]:
    """Each shown lead's segments: its 'segments' dict, else the SEGMENT_COLUMNS it has."""
    if "segments" in shown_rows.columns:
        values = shown_rows["segments"].tolist()
    else:
        present = [c for c in SEGMENT_COLUMNS if c in shown_rows.columns]
        # with no segment column at all, to_dict would give no records, not one empty each
        values = shown_rows[present].to_dict("records") if present else [{}] * len(shown_rows)
    return [
        {str(k): str(v) for k, v in value.items() if not _missing(v)}
        if isinstance(value, dict)
        else {}
        for value in values
    ]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _items(
    candidates: pd.DataFrame,
    shown: npt.NDArray[np.int64],
    *,
    at: datetime,
    lead_ids: npt.NDArray[np.object_],
    lane_order: npt.NDArray[np.int64],
    probability: npt.NDArray[np.float64],
    expected_value: npt.NDArray[np.float64],
    use_text: npt.NDArray[np.bool_],
    local_zones: npt.NDArray[np.object_],
    triggers: _Triggers,
) -> tuple[QueueItem, ...]:
    """Only the rows an officer will see are turned into items (at most the capacity)."""
    lanes = (Lane.NEW, Lane.TRIGGER, Lane.RANKED)
    shown_rows = candidates.iloc[shown]
    tier_column = next((c for c in ("tier", "engagement_tier") if c in candidates.columns), None)
    tiers = shown_rows[tier_column].tolist() if tier_column else [None] * len(shown)
    segments = _segments(shown_rows)
    states = candidates["state"].to_numpy(dtype=object)
    places: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    items: list[QueueItem] = []
    for k, position in enumerate(shown.tolist()):
        zone, state = str(local_zones[position]), str(states[position]).upper()
        key = (zone, state)
        if key not in places:
            window = calling_window(zone, state, at)
            places[key] = (
                window.local_now.isoformat(timespec="seconds"),
                best_time_to_call(zone, state, at).isoformat(timespec="seconds"),
                window.opens_at_local.isoformat(timespec="seconds"),
                window.closes_at_local.isoformat(timespec="seconds"),
            )
        local_now, best, opens, closes = places[key]
        lane = lanes[int(lane_order[position])]
        tier = tiers[k]
        value = float(expected_value[position])
        items.append(
            QueueItem(
                rank=k + 1,
                lane=lane,
                lead_id=str(lead_ids[position]),
                probability=float(probability[position]),
                expected_value_usd=None if math.isnan(value) else round(value, 2),
                tier=None if _missing(tier) else str(tier),
                segments=segments[k],
                channel=Channel.TEXT if use_text[position] else Channel.CALL,
                state=state,
                local_zone=zone,
                local_time_now=local_now,
                best_time_to_call=best,
                window_opens_local=opens,
                window_closes_local=closes,
                trigger_reasons=triggers.reasons(position),
                waiting_minutes=(
                    round((triggers.at_ns - int(triggers.created_ns[position])) / 60e9, 1)
                    if lane is Lane.NEW
                    else None
                ),
            )
        )
    return tuple(items)
