"""Follow-up policies: who each loan officer touches each day, on which channel, and how fast.

The interface is deliberately small. Each simulated day the simulator shows the policy a
DayView (what the officers could see in the CRM at midnight, office time) and the policy returns
a plan: a DataFrame with columns lead_id and channel ('call', 'text' or 'email'), most important
first. The simulator then keeps, per officer, the first `capacity[officer_id]` rows, and makes
those touches during the working day. Separately, for every new lead the policy says how many
seconds after the lead arrives the first response goes out (the speed-to-lead lane; NaN means
no lane: the lead waits for the next day's plan); first responses do not use capacity.

The simulator enforces the law whatever a policy asks: a touch on a channel without consent,
after an opt-out or DNC request, to a lead with no known time zone (calls and texts), outside
local calling hours, or beyond a state's 24-hour cap is not made.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import Channel

FloatArray = npt.NDArray[np.float64]

PLAN_COLUMNS: tuple[str, str] = ("lead_id", "channel")
"""A plan's columns: one row per touch, most important first within each officer."""

CRM_SUMMARY_COLUMNS: dict[str, str] = {
    "days_open": "whole days since the lead's creation day (1 on the day after)",
    "touches_total": "our touches so far (calls, texts, emails)",
    "touches_call": "calls so far",
    "touches_text": "texts so far",
    "touches_email": "emails so far",
    "first_touch_at": "our first touch (UTC), NaT if none",
    "last_touch_at": "our last touch (UTC), NaT if none",
    "last_touch_channel": "channel of our last touch",
    "last_call_outcome": "outcome of our last call",
    "inbound_total": "inbound actions (visits, opens, clicks, replies, questions, statements)",
    "last_inbound_at": "the lead's last inbound action (UTC), NaT if none",
    "last_message_at": "the lead's last message to us: text reply, question or statement (UTC)",
    "web_visits_total": "site visits so far",
    "can_call": "consent to calls, a known time zone, no opt-out or DNC request",
    "can_text": "consent to texts, a known time zone, no opt-out or DNC request",
    "can_email": "consent to email and no opt-out",
}
"""Columns a DayView adds to the lead rows: what a CRM shows next to each lead."""


def empty_plan() -> pd.DataFrame:
    return pd.DataFrame({"lead_id": pd.Series([], dtype="string"), "channel": []})


@dataclass(frozen=True)
class DayView:
    """What the loan officers can see at the start of a simulated day (midnight, office time).

    leads: every open lead (created before as_of, not applied), LEAD_COLUMNS plus
    CRM_SUMMARY_COLUMNS, one row each. capacity: follow-up touches each officer can make today
    (0 on days off). rng: a generator seeded from the config seed and the day, so a randomising
    policy is reproducible. Events (EVENT_COLUMNS, in event_id order) are built on demand:
    new_events() holds those that became visible since the previous view (for policies that
    keep running state), events() every event before as_of (its cost grows with the log).
    """

    day: date
    as_of: pd.Timestamp
    capacity: Mapping[str, int]
    leads: pd.DataFrame
    rng: np.random.Generator
    build_new_events: Callable[[], pd.DataFrame] = field(repr=False)
    build_events: Callable[[], pd.DataFrame] = field(repr=False)

    def new_events(self) -> pd.DataFrame:
        """Events that became visible since the previous DayView."""
        return self.build_new_events()

    def events(self) -> pd.DataFrame:
        """Every event that occurred before as_of."""
        return self.build_events()


class FollowUpPolicy(ABC):
    """Decides the daily touches and the first-response delay. Subclass and override both."""

    name: str = "policy"
    first_response_channels: tuple[Channel, ...] = (Channel.CALL, Channel.TEXT, Channel.EMAIL)
    """The first response uses the first of these the lead can legally get at that moment."""

    @abstractmethod
    def first_response_delay_s(
        self, new_leads: pd.DataFrame, rng: np.random.Generator
    ) -> FloatArray:
        """Seconds from each new lead's created_at to its first response (NaN: no lane)."""

    @abstractmethod
    def plan_day(self, view: DayView) -> pd.DataFrame:
        """Touches for today: columns lead_id and channel, most important first per officer."""


def _allowed_matrix(leads: pd.DataFrame) -> npt.NDArray[np.bool_]:
    return np.column_stack(
        [leads[c].to_numpy(dtype=bool) for c in ("can_call", "can_text", "can_email")]
    )


def _pick_channels(
    rng: np.random.Generator,
    allowed: npt.NDArray[np.bool_],
    weights: tuple[float, float, float],
    avoid: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """A channel per row (0 call, 1 text, 2 email) among the allowed ones; -1 when none is."""
    w = allowed * np.array(weights)
    if avoid is not None:
        rows = np.flatnonzero(avoid >= 0)
        w[rows, avoid[rows]] *= 0.4
    total = w.sum(axis=1)
    cumulative = np.cumsum(w, axis=1) / np.where(total > 0, total, 1.0)[:, None]
    choice = (rng.random(len(w))[:, None] > cumulative).sum(axis=1)
    return np.where(total > 0, np.minimum(choice, 2), -1).astype(np.int64)


_CHANNEL_NAMES = np.array(
    [c.value for c in (Channel.CALL, Channel.TEXT, Channel.EMAIL)], dtype=object
)
_CHANNEL_CODES = {c: k for k, c in enumerate(_CHANNEL_NAMES)}


def _channel_codes(values: pd.Series) -> npt.NDArray[np.int64]:
    """0 call, 1 text, 2 email, -1 missing."""
    return np.asarray(pd.Categorical(values, categories=list(_CHANNEL_NAMES)).codes, dtype=np.int64)


def _plan(
    leads: pd.DataFrame, rows: npt.NDArray[np.int64], channels: npt.NDArray[np.int64]
) -> pd.DataFrame:
    keep = channels >= 0
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy(dtype=object)[rows[keep]],
            "channel": _CHANNEL_NAMES[channels[keep]],
        }
    )


@dataclass
class HistoricalPolicy(FollowUpPolicy):
    """The brief's "before": ~4 h to first response, ~2.3 touches a lead, most stop after 2-3.

    First response: instant_share of leads get an answer within minutes, the rest wait a
    lognormal delay (median median_delay_h), and nobody answers between 9 PM and 7:30 AM office
    time: about 4 h median, 6-7 h mean. Follow-up: after the n-th touch the officer may try
    again after a gap (1, 2, 4, 7, then 14 days) during a window of 4-6 days, with the daily
    chance follow_up_daily_p[n - 1], then gives up; a lead who wrote to us (reply, question,
    statement) in the last two days gets attention again with chance reengage_p, up to
    max_reengaged_touches. Officers work those leads first, then the newest. With the default
    world this gives about 2.3 touches a lead and 14% of leads with 5 or more.
    """

    name: str = "historical"
    office_time_zone: str = "America/Chicago"
    instant_share: float = 0.07
    median_delay_h: float = 2.2
    delay_sigma: float = 1.1
    follow_up_daily_p: tuple[float, ...] = (0.12, 0.25, 0.3, 0.35, 0.3)
    """Daily chance of another attempt inside the window after touch 1, 2, 3, 4, 5+."""
    reengage_p: float = 0.3
    max_reengaged_touches: int = 4

    def first_response_delay_s(
        self, new_leads: pd.DataFrame, rng: np.random.Generator
    ) -> FloatArray:
        n = len(new_leads)
        delay = np.where(
            rng.random(n) < self.instant_share,
            rng.exponential(120.0, size=n),
            self.median_delay_h * 3600 * np.exp(rng.normal(0.0, self.delay_sigma, size=n)),
        )
        created_s = pd.DatetimeIndex(new_leads["created_at"]).asi8 // 1_000_000_000
        respond_s = created_s + delay.astype(np.int64)
        utc = pd.DatetimeIndex(respond_s * 1_000_000_000, tz="UTC")
        offset_s = utc.tz_convert(self.office_time_zone).tz_localize(None).asi8 // 1_000_000_000
        offset_s = offset_s - respond_s
        local_s = respond_s + offset_s
        local_day_s = local_s - local_s % 86_400
        hour = (local_s % 86_400) / 3600
        # Nobody answers at night: the answer goes out the next morning, in no hurry.
        late, early = hour >= 21, hour < 7.5
        morning_local = (
            local_day_s + np.where(late, 86_400, 0) + 8 * 3600 + rng.exponential(2700.0, size=n)
        )
        respond_s = np.where(late | early, morning_local.astype(np.int64) - offset_s, respond_s)
        return np.asarray(respond_s - created_s, dtype=np.float64)

    def follow_up_chance(
        self, touches: npt.NDArray[np.int64], days_since_last_touch: FloatArray
    ) -> FloatArray:
        """Today's chance of another attempt: inside the window after the n-th touch, else 0."""
        n = touches
        gap = np.select([n <= 1, n == 2, n == 3, n == 4], [1, 2, 4, 7], 14)
        window = np.where(n <= 2, 4, 6)
        p_next = np.asarray(self.follow_up_daily_p)[
            np.clip(n - 1, 0, len(self.follow_up_daily_p) - 1)
        ]
        since = days_since_last_touch
        in_window = (n >= 1) & (since >= gap) & (since < gap + window)
        return np.asarray(np.where(in_window, p_next, 0.0), dtype=np.float64)

    def plan_day(self, view: DayView) -> pd.DataFrame:
        leads = view.leads
        if leads.empty:
            return empty_plan()
        rng = view.rng
        n = leads["touches_total"].to_numpy(dtype=np.int64)
        since = _days_since(view.as_of, leads["last_touch_at"])
        # Officers notice messages (replies, questions), not site visits or opens, and only
        # for a couple of days.
        last_message = leads["last_message_at"]
        reengaged = (
            (n >= 1)
            & (n < self.max_reengaged_touches)
            & (since >= 1)
            & (last_message > leads["last_touch_at"]).fillna(False).to_numpy(dtype=bool)
            & (_days_since(view.as_of, last_message) <= 2)
        )
        u = rng.random(len(leads))
        wanted = (u < self.follow_up_chance(n, since)) | (reengaged & (u < self.reengage_p))
        rows = np.flatnonzero(wanted)
        if rows.size == 0:
            return empty_plan()
        last_channel = _channel_codes(leads["last_touch_channel"])[rows]
        channels = _pick_channels(
            rng, _allowed_matrix(leads)[rows], (0.5, 0.3, 0.2), avoid=last_channel
        )
        created_ns = pd.DatetimeIndex(leads["created_at"]).asi8[rows]
        order = np.lexsort((-created_ns, ~reengaged[rows]))
        return _plan(leads, rows[order], channels[order])


CADENCE_DAYS: tuple[int, ...] = (0, 1, 2, 3, 7, 14, 30, 45, 60, 90)
CADENCE_CHANNELS: tuple[Channel, ...] = (
    Channel.CALL,
    Channel.CALL,
    Channel.CALL,
    Channel.EMAIL,
    Channel.TEXT,
    Channel.CALL,
    Channel.EMAIL,
    Channel.TEXT,
    Channel.CALL,
    Channel.EMAIL,
)
"""DOMAIN.md's example cadence (purchase, 3-6 months); after day 90, monthly call/text/email."""


@dataclass
class CadencePolicy(FollowUpPolicy):
    """The brief's "after": answer in seconds, then a full cadence (DOMAIN.md) plus triggers.

    speed_to_lead_s: mean seconds to the first response (None: no speed lane, the lead waits
    for the next day's plan). max_touches caps the cadence (None: no cap), which makes a
    dose-response comparison with the same leads possible.
    """

    name: str = "cadence"
    speed_to_lead_s: float | None = 47.0
    max_touches: int | None = None

    def first_response_delay_s(
        self, new_leads: pd.DataFrame, rng: np.random.Generator
    ) -> FloatArray:
        n = len(new_leads)
        if self.speed_to_lead_s is None:
            return np.full(n, np.nan)
        return np.maximum(rng.exponential(self.speed_to_lead_s, size=n), 5.0)

    def plan_day(self, view: DayView) -> pd.DataFrame:
        leads = view.leads
        if leads.empty:
            return empty_plan()
        days_open = leads["days_open"].to_numpy(dtype=np.int64)
        n = leads["touches_total"].to_numpy(dtype=np.int64)
        schedule = np.array(CADENCE_DAYS)
        due = np.searchsorted(schedule, days_open, side="right")
        monthly_after = np.maximum(days_open - schedule[-1], 0) // 30
        due = due + monthly_after
        behind = due - n
        # Triggers (DOMAIN.md): the lead wrote to us (reply, question, statement) since our last
        # touch; answered the next working day.
        last_message = leads["last_message_at"]
        triggered = (last_message > leads["last_touch_at"]).fillna(False).to_numpy(dtype=bool) & (
            _days_since(view.as_of, leads["last_touch_at"]) >= 1
        )
        wanted = (behind > 0) | triggered
        if self.max_touches is not None:
            wanted &= n < self.max_touches
        rows = np.flatnonzero(wanted)
        if rows.size == 0:
            return empty_plan()
        # The touch about to be made is number n + 1: its channel comes from the cadence, then
        # monthly call, text, email in turn.
        cadence = np.array([_CHANNEL_CODES[c.value] for c in CADENCE_CHANNELS])
        k = n[rows]
        wanted_channel = np.where(
            k < cadence.size, cadence[np.minimum(k, cadence.size - 1)], (k - cadence.size) % 3
        )
        allowed = _allowed_matrix(leads)[rows]
        ok = allowed[np.arange(rows.size), wanted_channel]
        fallback = _pick_channels(view.rng, allowed, (0.5, 0.3, 0.2))
        channels = np.where(ok, wanted_channel, fallback)
        order = np.lexsort((-behind[rows], ~triggered[rows]))
        return _plan(leads, rows[order], channels[order])


def _days_since(as_of: pd.Timestamp, times: pd.Series) -> FloatArray:
    """Whole days (ceil) from each time to as_of; +inf when there is no time."""
    seconds = (as_of - times).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.inf)
    return np.asarray(np.ceil(seconds / 86_400), dtype=np.float64)
