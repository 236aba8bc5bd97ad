"""The day-by-day simulation: latent readiness, touches, the lead's reactions and the outcome.

Each simulated day (midnight to midnight, office time) the engine
1. makes visible the events that happened before midnight and shows the policy a DayView;
2. creates the day's new leads and schedules their first responses (the speed-to-lead lane);
3. moves every lead's latent readiness one step and computes today's application hazard from
   the state at the start of the day; a lead applies when its cumulative hazard passes its own
   exponential threshold (drawn once per lead, so a policy that raises the hazard makes the
   same lead apply sooner: common random numbers);
4. makes the day's touches (the plan within capacity, plus first responses due today), keeping
   only those the law allows, and draws the lead's reactions (call outcomes, opens, clicks,
   replies, opt-outs);
5. draws the lead's own activity (site visits, questions, statements).

The hazard, per day:  h = min(0.3, h0 * intent * exp(readiness) * source * loan type * credit
* touches(n) * speed * rate gap * recent engagement * appointment). touches(n) = 1 - 0.75 e^(-n/3)
rises with diminishing returns; speed = 1 + 2 e^(-minutes/6) for a first response by call or
text (half that bonus for an email), so an answer within 5 minutes converts far better than one
after 30; for refinance leads the rate gap (quoted minus market, when positive) multiplies the
hazard by e^(2.4 gap). After a lead applies, its hazard is still computed (touches frozen) to the
end of the period, so true_propensity is the probability of applying within the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from data_contracts.enums import (
    CallOutcome,
    Channel,
    CreditBand,
    EventType,
    LeadSource,
    LoanType,
    QuestionTopic,
)
from data_contracts.schemas import EVENT_COLUMNS
from simulator import content
from simulator.clock import SECONDS_PER_DAY, SimulationClock
from simulator.config import SimulationConfig
from simulator.market import market_rates
from simulator.policies import PLAN_COLUMNS, DayView, FollowUpPolicy
from simulator.population import CREATED_HOUR_WEIGHT, Population, generate_population
from simulator.streams import Stream, normal, uniform

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class PolicyError(ValueError):
    """A policy returned a plan the simulator cannot follow; the message says what to fix."""


CHANNELS: tuple[Channel, ...] = (Channel.CALL, Channel.TEXT, Channel.EMAIL)
CALL, TEXT, EMAIL = 0, 1, 2
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
ET = {e: k for k, e in enumerate(EVENT_TYPES)}
OUTCOMES: tuple[CallOutcome, ...] = tuple(CallOutcome)
OC = {o: k for k, o in enumerate(OUTCOMES)}
TOPICS: tuple[QuestionTopic, ...] = tuple(QuestionTopic)
TOUCH_TYPES = (ET[EventType.CALL], ET[EventType.TEXT_SENT], ET[EventType.EMAIL_SENT])
INBOUND_TYPES = np.array(
    [
        ET[e]
        for e in (
            EventType.WEB_VISIT,
            EventType.EMAIL_OPENED,
            EventType.EMAIL_CLICKED,
            EventType.TEXT_REPLIED,
            EventType.QUESTION_ASKED,
            EventType.STATEMENT,
        )
    ]
)
MESSAGE_TYPES = np.array(
    [ET[e] for e in (EventType.TEXT_REPLIED, EventType.QUESTION_ASKED, EventType.STATEMENT)]
)
OUTCOME_TYPES = np.array([ET[EventType.APPLICATION_SUBMITTED], ET[EventType.LOAN_FUNDED]])

# -- hazard parameters (see the module docstring) ---------------------------------------------
H0_FOR_3_PCT = 0.00016
"""Daily base hazard that gives the historical policy about 3% applications in a default world."""
MAX_DAILY_HAZARD = 0.3
SOURCE_LOG: dict[LeadSource, float] = {
    LeadSource.REFERRAL: np.log(2.0),
    LeadSource.ONLINE_LEAD: np.log(0.75),
    LeadSource.PAST_CLIENT: np.log(2.4),
    LeadSource.REALTOR_PARTNER: np.log(1.5),
}
LOAN_LOG: dict[LoanType, float] = {
    LoanType.PURCHASE: 0.0,
    LoanType.REFINANCE: np.log(1.1),
    LoanType.INVESTMENT: np.log(0.8),
    LoanType.JUMBO: np.log(0.9),
}
CREDIT_LOG: dict[CreditBand, float] = {
    CreditBand.EXCELLENT: np.log(1.15),
    CreditBand.GOOD: 0.0,
    CreditBand.FAIR: np.log(0.8),
    CreditBand.POOR: np.log(0.45),
    CreditBand.UNKNOWN: np.log(0.85),
}
SPEED_BONUS = 2.0
SPEED_MINUTES = 6.0
REFINANCE_GAP_SLOPE = 2.4
OTHER_GAP_SLOPE = 0.3
ENGAGEMENT_SLOPE = 0.12
APPOINTMENT_LOG = np.log(2.2)
APPOINTMENT_DAYS = 21
READINESS_AR = 0.92
READINESS_SD = 0.22
DAYS_PER_MONTH = 365.25 / 12
FUNDED_SHARE = 0.65

WORK_START_S = int(8.5 * 3600)
WORK_END_S = 18 * 3600
CALL_START_S = 8 * 3600
CALL_END_MARGIN_S = 600  # the last call starts ten minutes before the legal end
STATE_CAP_PER_24H = 3


@dataclass
class _TextPool:
    """Free texts stored once; events hold an index."""

    texts: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def codes(self, values: tuple[str, ...]) -> IntArray:
        out = []
        for value in values:
            if value not in self.index:
                self.index[value] = len(self.texts)
                self.texts.append(value)
            out.append(self.index[value])
        return np.array(out, dtype=np.int64)


_EVENT_FIELDS = ("lead", "t", "etype", "channel", "outcome", "topic", "page", "text")
EventArrays = dict[str, IntArray]


_RELEASED_FIELDS = (*_EVENT_FIELDS, "event_number")


def _concat(chunks: list[EventArrays], fields: tuple[str, ...] = _EVENT_FIELDS) -> EventArrays:
    if not chunks:
        return {f: np.empty(0, dtype=np.int64) for f in fields}
    return {f: np.concatenate([c[f] for c in chunks]) for f in fields}


def _take(arrays: EventArrays, index: IntArray | BoolArray | slice) -> EventArrays:
    return {f: v[index] for f, v in arrays.items()}


class _EventLog:
    """Events waiting to happen (pending) and events that happened (released, with ids)."""

    def __init__(self) -> None:
        self.pending: list[EventArrays] = []
        self.released: list[EventArrays] = []
        self.count = 0

    def add(self, lead: IntArray, t: IntArray, etype: int, **codes: IntArray | int) -> None:
        n = len(lead)
        if n == 0:
            return
        chunk: EventArrays = {
            "lead": np.asarray(lead, dtype=np.int64),
            "t": np.asarray(t, dtype=np.int64),
            "etype": np.full(n, etype, dtype=np.int64),
        }
        for name in ("channel", "outcome", "topic", "page", "text"):
            chunk[name] = np.broadcast_to(
                np.asarray(codes.get(name, -1), dtype=np.int64), (n,)
            ).copy()
        self.pending.append(chunk)

    def release(self, before_s: int, applied_at_s: IntArray) -> EventArrays:
        """Events before `before_s`, in time order with ids; drops what followed an application."""
        pending = _concat(self.pending)
        due = pending["t"] < before_s
        self.pending = [_take(pending, ~due)] if (~due).any() else []
        batch = _take(pending, due)
        after_application = (batch["t"] > applied_at_s[batch["lead"]]) & ~np.isin(
            batch["etype"], OUTCOME_TYPES
        )
        batch = _take(batch, ~after_application)
        order = np.lexsort((batch["etype"], batch["lead"], batch["t"]))
        batch = _take(batch, order)
        batch["event_number"] = np.arange(self.count, self.count + len(order), dtype=np.int64)
        self.count += len(order)
        self.released.append(batch)
        return batch


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _choose(u: FloatArray, weights: FloatArray) -> IntArray:
    """Row-wise categorical draw: index of the column u falls in (weights need not sum to 1)."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1:]
    index = np.minimum((u[:, None] * total > cumulative).sum(axis=1), weights.shape[1] - 1)
    return np.asarray(index, dtype=np.int64)


def _lognormal_s(u: FloatArray, median_s: float, sigma: float, cap_s: float) -> IntArray:
    """Delays with a lognormal shape from uniforms (inverse CDF via a normal approximation)."""
    z = np.sqrt(2.0) * _erfinv(2.0 * u - 1.0)
    return np.asarray(np.minimum(median_s * np.exp(sigma * z), cap_s), dtype=np.int64) + 1


def _erfinv(y: FloatArray) -> FloatArray:
    """Winitzki's approximation of the inverse error function (ample for simulated delays)."""
    a = 0.147
    ln = np.log(np.maximum(1.0 - y * y, 1e-300))
    first = 2.0 / (np.pi * a) + ln / 2.0
    return np.asarray(
        np.sign(y) * np.sqrt(np.sqrt(first * first - ln / a) - first), dtype=np.float64
    )


def readiness_target(months_left: FloatArray) -> FloatArray:
    """Where a lead's latent readiness is pulled: up as its ready date nears, down after it."""
    return np.asarray(
        np.maximum(
            1.0 - 0.55 * np.maximum(months_left, 0.0) - 0.8 * np.maximum(-months_left, 0.0), -8.0
        ),
        dtype=np.float64,
    )


def next_readiness(
    readiness: FloatArray, target: FloatArray, noise: FloatArray, new: BoolArray
) -> FloatArray:
    """One day of the AR(1) readiness walk; a new lead starts from the stationary spread."""
    return np.asarray(
        np.where(
            new,
            target + READINESS_SD / np.sqrt(1 - READINESS_AR**2) * noise,
            READINESS_AR * readiness + (1 - READINESS_AR) * target + READINESS_SD * noise,
        ),
        dtype=np.float64,
    )


def rate_log_factor(gap_pct: FloatArray, is_refinance: BoolArray) -> FloatArray:
    """Log hazard from the quoted rate minus the market's (refinance leads care most)."""
    return np.asarray(
        np.where(
            is_refinance,
            REFINANCE_GAP_SLOPE * np.clip(gap_pct, 0.0, 2.0) + 0.8 * np.clip(gap_pct, -1.0, 0.0),
            OTHER_GAP_SLOPE * np.clip(gap_pct, -1.0, 1.0),
        ),
        dtype=np.float64,
    )


def daily_application_hazard(
    const_log: FloatArray,
    readiness: FloatArray,
    touches: FloatArray,
    speed: FloatArray,
    rate_log: FloatArray,
    engagement: FloatArray,
    appointment: BoolArray,
) -> FloatArray:
    """The day's probability of applying (the module docstring's formula)."""
    log_h = (
        const_log
        + readiness
        + np.log(1.0 - 0.75 * np.exp(-touches / 3.0))
        + np.log(speed)
        + rate_log
        + ENGAGEMENT_SLOPE * np.minimum(engagement, 6.0)
        + APPOINTMENT_LOG * appointment
    )
    return np.asarray(np.minimum(np.exp(log_h), MAX_DAILY_HAZARD), dtype=np.float64)


def first_touch_speed(minutes: FloatArray, channel: IntArray) -> FloatArray:
    """Speed-to-lead factor of a first touch `minutes` after creation (an email: half the bonus)."""
    weight = np.where(channel == EMAIL, 0.5, 1.0)
    return np.asarray(
        1.0 + SPEED_BONUS * np.exp(-minutes / SPEED_MINUTES) * weight, dtype=np.float64
    )


def call_outcome_chances(
    readiness_share: FloatArray, calls_made: IntArray, bonus: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(connect, asked to stop, not interested, appointment): the last three given a connect,
    tried in that order against one uniform."""
    r = readiness_share
    connect = np.clip(0.16 + 0.24 * r + bonus, 0.03, 0.75)
    stop = np.minimum(0.015 + 0.008 * calls_made, 0.08)
    return connect, stop, 0.3 * (1 - r), 0.03 + 0.45 * r**2


def text_reply_chance(readiness_share: FloatArray, intent: FloatArray) -> FloatArray:
    return np.asarray(np.minimum(0.05 + 0.35 * readiness_share * intent**0.25, 0.6))


def email_open_chance(readiness_share: FloatArray, intent: FloatArray) -> FloatArray:
    return np.asarray(np.minimum((0.12 + 0.42 * readiness_share) * intent**0.2, 0.85))


def email_click_chance(readiness_share: FloatArray) -> FloatArray:
    """Given an open."""
    return np.asarray(0.10 + 0.35 * readiness_share)


ENGAGEMENT_DECAY = 0.85
"""Engagement kept from one day to the next."""
ENGAGEMENT_PER_TOUCH = 1.0
ENGAGEMENT_PER_REPLY = 1.5
"""A conversation (a call that went somewhere, a text reply)."""
ENGAGEMENT_PER_CLICK = 1.0


@dataclass
class SimulationRun:
    """Everything one run produced, as arrays, before it becomes DataFrames."""

    config: SimulationConfig
    policy_name: str
    clock: SimulationClock
    population: Population
    rates_pct: FloatArray
    events: EventArrays
    texts: list[str]
    cumulative_hazard: FloatArray
    applied_at_s: IntArray
    hazard_lead: npt.NDArray[np.int32]
    hazard_day: npt.NDArray[np.int16]
    hazard: FloatArray
    hazard_open: BoolArray
    as_of_states: dict[str, FloatArray | IntArray | BoolArray]
    """Per (recorded day, open lead): the latent state at the day's start (see as_of_state)."""


class _Simulation:
    """The mutable state of one run. `run()` steps it day by day."""

    def __init__(self, config: SimulationConfig, policy: FollowUpPolicy) -> None:
        self.config = config
        self.policy = policy
        self.seed = config.seed
        self.clock = SimulationClock.build(config.start, config.days, config.office_time_zone)
        rate_rng = np.random.default_rng([config.seed, 201])
        self.rates_pct = market_rates(
            rate_rng,
            config.start,
            config.days,
            config.start_rate_pct,
            config.rate_drop_pct,
            config.rate_shock_pct,
            config.rate_shock_at_fraction,
        )
        self.pop = generate_population(config, self.clock, self.rates_pct)
        pop = self.pop
        n = pop.size
        self.n = n
        self.texts = _TextPool()
        self.log = _EventLog()
        self.lead_ids = pd.Index(pop.leads["lead_id"].to_numpy(dtype=object))
        self.lead_arrays = {name: pop.leads[name].array for name in pop.leads.columns}
        self.first_lead_of_day = np.searchsorted(pop.day, np.arange(self.clock.days + 1))

        h0 = H0_FOR_3_PCT * config.base_application_rate / 0.03
        self.const_log = (
            np.log(max(h0, 1e-12))
            + np.log(pop.intent)
            + np.array([SOURCE_LOG[s] for s in LeadSource])[pop.source]
            + np.array([LOAN_LOG[t] for t in LoanType])[pop.loan_type]
            + np.array([CREDIT_LOG[c] for c in CreditBand])[pop.credit]
        )
        self.is_refinance = pop.loan_type == list(LoanType).index(LoanType.REFINANCE)
        self.threshold = -np.log(uniform(self.seed, Stream.APPLY_THRESHOLD, np.arange(n)))

        # Latent and outcome state.
        self.readiness = np.zeros(n)
        self.cum_hazard = np.zeros(n)
        self.applied_day = np.full(n, -1, dtype=np.int64)
        self.applied_at_s = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        # What has been done to each lead (the engine's truth, used for tomorrow's hazard).
        self.touches = np.zeros((n, 3), dtype=np.int64)
        self.first_touch_s = np.full(n, -1, dtype=np.int64)
        self.speed = np.ones(n)
        self.engagement = np.zeros(n)
        self.appointment_until = np.full(n, -1, dtype=np.int64)
        self.last_positive_day = np.full(n, -100, dtype=np.int64)
        self.opted_out = np.zeros((n, 3), dtype=bool)
        self.dnc = np.zeros(n, dtype=bool)
        self.unanswered_texts = np.zeros(n, dtype=np.int64)
        self.calls_made = np.zeros(n, dtype=np.int64)
        self.recent_contacts = np.full((n, STATE_CAP_PER_24H), -(10**12), dtype=np.int64)
        # What the CRM shows (updated from released events only).
        self.obs_touches = np.zeros((n, 3), dtype=np.int64)
        self.obs_first_touch = np.full(n, -1, dtype=np.int64)
        self.obs_last_touch = np.full(n, -1, dtype=np.int64)
        self.obs_last_channel = np.full(n, -1, dtype=np.int64)
        self.obs_last_outcome = np.full(n, -1, dtype=np.int64)
        self.obs_inbound = np.zeros(n, dtype=np.int64)
        self.obs_last_inbound = np.full(n, -1, dtype=np.int64)
        self.obs_last_message = np.full(n, -1, dtype=np.int64)
        self.obs_visits = np.zeros(n, dtype=np.int64)
        self.obs_opted_out = np.zeros((n, 3), dtype=bool)
        self.obs_dnc = np.zeros(n, dtype=bool)
        # First responses waiting for their time.
        self.lane: dict[str, IntArray] = {
            "lead": np.empty(0, dtype=np.int64),
            "t": np.empty(0, dtype=np.int64),
            "channel": np.empty(0, dtype=np.int64),
        }
        # Alive leads are always leads 0..k-1 (ids follow creation), so day d's hazards fill a
        # known slice of one preallocated array and the lead index is implied.
        alive_per_day = self.first_lead_of_day[1:] if config.record_daily_hazard else np.zeros(0)
        self.hazard_offsets = np.r_[0, np.cumsum(alive_per_day)].astype(np.int64)
        self.hazard_values = np.empty(int(self.hazard_offsets[-1]))
        self.hazard_is_open = np.empty(int(self.hazard_offsets[-1]), dtype=bool)
        self._events_cache: tuple[int, pd.DataFrame] | None = None
        self.unseen_batches: list[EventArrays] = []
        self.hour_cdf = np.cumsum(CREATED_HOUR_WEIGHT) / sum(CREATED_HOUR_WEIGHT)
        self.as_of_days = {(d - config.start).days for d in config.as_of_state_dates}
        self.as_of_records: list[dict[str, FloatArray | IntArray | BoolArray]] = []
        self.branch_day = (
            (config.future_from - config.start).days if config.future_from is not None else None
        )

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> SimulationRun:
        for day in range(self.clock.days):
            self._step(day)
        end = self.clock.period_end_s
        self.log.release(end, self.applied_at_s)
        self.log.pending = []  # anything later falls after the period
        events = _concat(self.log.released, _RELEASED_FIELDS)
        h_lead, h_day, h, h_open = self._hazard_table()
        return SimulationRun(
            config=self.config,
            policy_name=self.policy.name,
            clock=self.clock,
            population=self.pop,
            rates_pct=self.rates_pct,
            events=events,
            texts=self.texts.texts,
            cumulative_hazard=self.cum_hazard,
            applied_at_s=self.applied_at_s,
            hazard_lead=h_lead,
            hazard_day=h_day,
            hazard=h,
            hazard_open=h_open,
            as_of_states={
                name: np.concatenate([r[name] for r in self.as_of_records])
                for name in (self.as_of_records[0] if self.as_of_records else {})
            },
        )

    def _hazard_table(
        self,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int16], FloatArray, BoolArray]:
        """The recorded hazards as (lead, day, hazard, open) columns, day-major."""
        sizes = np.diff(self.hazard_offsets)
        lead = np.empty(int(self.hazard_offsets[-1]), dtype=np.int32)
        for day, size in enumerate(sizes):
            start = self.hazard_offsets[day]
            lead[start : start + size] = np.arange(size, dtype=np.int32)
        day_index = np.repeat(np.arange(sizes.size, dtype=np.int16), sizes)
        return lead, day_index, self.hazard_values, self.hazard_is_open

    def _step(self, day: int) -> None:
        if day == self.branch_day and self.config.future_seed is not None:
            self._branch_future(self.config.future_seed)
        start_s = int(self.clock.day_bounds_s[day])
        batch = self.log.release(start_s, self.applied_at_s)
        self._observe(batch)
        if day in self.as_of_days:
            self.as_of_records.append(self.as_of_state(day))
        self.unseen_batches.append(batch)
        plan = self._plan(day, start_s)
        self._create_leads(day)
        alive = np.arange(0, self.first_lead_of_day[day + 1])
        applying = self._hazard(day, alive)
        touches = self._touches(day, plan)
        self._lead_activity(day, alive[self.applied_day[alive] < 0] if alive.size else alive)
        self._record_applications(applying)
        self._update_after_touches(touches)

    def _branch_future(self, future_seed: int) -> None:
        """From now on draw with future_seed; open leads get fresh application thresholds (by
        memorylessness the remaining threshold of an open lead is a fresh exponential)."""
        self.seed = future_seed
        open_leads = np.flatnonzero(self.applied_day < 0)
        fresh = -np.log(uniform(self.seed, Stream.APPLY_THRESHOLD, open_leads))
        self.threshold[open_leads] = self.cum_hazard[open_leads] + fresh

    def as_of_state(self, day: int) -> dict[str, FloatArray | IntArray | BoolArray]:
        """Everything true at the start of `day` that drives an open lead's future hazard.

        Latent readiness and intent, the hazard's constant part, touches and their effects so
        far (speed, engagement, appointment), the first response already scheduled, and which
        channels the lead can still be reached on. Nothing drawn on or after `day` is read.
        """
        pop = self.pop
        idx = np.flatnonzero(self.applied_day[: self.first_lead_of_day[day]] < 0)
        phone_ok = pop.zone_known[idx] & ~self.dnc[idx]
        allowed = pop.consent[idx] & ~self.opted_out[idx]
        allowed[:, CALL] &= phone_ok
        allowed[:, TEXT] &= phone_ok
        lane_of = np.full(self.n, -1, dtype=np.int64)
        lane_of[self.lane["lead"]] = np.arange(self.lane["lead"].size)
        pending = lane_of[idx]
        has_pending = (pending >= 0) & (self.first_touch_s[idx] < 0)
        lane_t = np.append(self.lane["t"], -1)  # index -1: no scheduled first response
        lane_channel = np.append(self.lane["channel"], -1)
        age_months = (day - pop.day[idx]) / DAYS_PER_MONTH
        return {
            "lead": idx.astype(np.int64),
            "day": np.full(idx.size, day, dtype=np.int64),
            "as_of_s": np.full(idx.size, int(self.clock.day_bounds_s[day]), dtype=np.int64),
            "readiness": self.readiness[idx].copy(),
            "months_left": pop.months_to_ready[idx] - age_months,
            "intent": pop.intent[idx].copy(),
            "const_log": self.const_log[idx].copy(),
            "is_refinance": self.is_refinance[idx].copy(),
            "quoted_rate_pct": pop.quoted_rate_pct[idx].astype(np.float64),
            "market_rate_pct": np.full(idx.size, self.rates_pct[day]),
            "touches": self.touches[idx].sum(axis=1),
            "calls_made": self.calls_made[idx].copy(),
            "speed": self.speed[idx].copy(),
            "engagement": self.engagement[idx].copy(),
            "appointment_days_left": self.appointment_until[idx] - day,
            "last_touch_s": self.obs_last_touch[idx].copy(),
            "created_s": pop.created_s[idx].astype(np.int64),
            "first_response_s": np.where(has_pending, lane_t[pending], -1),
            "first_response_channel": np.where(has_pending, lane_channel[pending], -1),
            "can_call": allowed[:, CALL].copy(),
            "can_text": allowed[:, TEXT].copy(),
            "can_email": allowed[:, EMAIL].copy(),
        }

    # -- visibility -----------------------------------------------------------------------------

    def _observe(self, batch: EventArrays) -> None:
        lead, t, etype, channel = batch["lead"], batch["t"], batch["etype"], batch["channel"]
        for code, type_code in enumerate(TOUCH_TYPES):
            rows = etype == type_code
            np.add.at(self.obs_touches[:, code], lead[rows], 1)
        touch_rows = np.isin(etype, TOUCH_TYPES)
        if touch_rows.any():
            tl, tt = lead[touch_rows], t[touch_rows]
            first_seen = np.flatnonzero(self.obs_first_touch[tl] < 0)
            unique_first, position = np.unique(tl[first_seen], return_index=True)
            self.obs_first_touch[unique_first] = tt[first_seen][position]
            last = _last_per_lead(tl)
            self.obs_last_touch[tl[last]] = tt[last]
            self.obs_last_channel[tl[last]] = channel[touch_rows][last]
        call_rows = np.flatnonzero(etype == ET[EventType.CALL])
        if call_rows.size:
            last = _last_per_lead(lead[call_rows])
            self.obs_last_outcome[lead[call_rows][last]] = batch["outcome"][call_rows][last]
        inbound = np.isin(etype, INBOUND_TYPES)
        if inbound.any():
            np.add.at(self.obs_inbound, lead[inbound], 1)
            last = _last_per_lead(lead[inbound])
            self.obs_last_inbound[lead[inbound][last]] = t[inbound][last]
        message = np.isin(etype, MESSAGE_TYPES)
        if message.any():
            last = _last_per_lead(lead[message])
            self.obs_last_message[lead[message][last]] = t[message][last]
        np.add.at(self.obs_visits, lead[etype == ET[EventType.WEB_VISIT]], 1)
        opt = etype == ET[EventType.OPT_OUT]
        self.obs_opted_out[lead[opt], channel[opt]] = True
        self.obs_dnc[lead[etype == ET[EventType.DNC_REQUEST]]] = True

    def _plan(self, day: int, start_s: int) -> IntArray | None:
        """Ask the policy for today's touches; returns [lead, channel, rank] rows in capacity.

        The policy is asked on working days only; its view's new_events() then holds every
        event that became visible since it was last asked (over a weekend, three days' worth).
        """
        working = self.clock.weekday(day) in self.config.working_weekdays
        capacity = self.config.daily_capacity if working else 0
        if capacity == 0:
            return None
        open_idx = np.flatnonzero(self.applied_day[: self.first_lead_of_day[day]] < 0)
        unseen = _concat(self.unseen_batches, _RELEASED_FIELDS)
        self.unseen_batches = []
        view = DayView(
            day=self.clock.date_of(day),
            as_of=pd.Timestamp(start_s, unit="s", tz="UTC"),
            capacity=dict.fromkeys(self.config.officer_ids, capacity),
            leads=self._crm_rows(day, open_idx),
            rng=np.random.default_rng([self.seed, 301, day]),
            build_new_events=partial(self._events_frame, unseen),
            build_events=partial(self._events_before, self.log.count),
        )
        plan = self.policy.plan_day(view)
        missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
        if missing:
            raise PolicyError(
                f"{self.policy.name}.plan_day returned columns {list(plan.columns)}; "
                f"add {missing} (lead_id and channel, one row per touch)"
            )
        lead = self.lead_ids.get_indexer(plan["lead_id"].astype(object).to_numpy())
        if (lead < 0).any():
            bad = plan["lead_id"].iloc[int(np.flatnonzero(lead < 0)[0])]
            raise PolicyError(
                f"{self.policy.name}.plan_day: lead_id {bad!r} is not a lead of this world; "
                "plan only leads from view.leads"
            )
        names = {c.value: k for k, c in enumerate(CHANNELS)}
        channel = np.array([names.get(str(c), -1) for c in plan["channel"]], dtype=np.int64)
        if (channel < 0).any():
            bad = plan["channel"].iloc[int(np.flatnonzero(channel < 0)[0])]
            raise PolicyError(
                f"{self.policy.name}.plan_day: channel {bad!r} is not one of "
                f"{[c.value for c in CHANNELS]}"
            )
        keep = (self.pop.day[lead] < day) & (self.applied_day[lead] < 0)
        lead, channel = lead[keep], channel[keep]
        _, first = np.unique(lead * 3 + channel, return_index=True)
        first.sort()
        lead, channel = lead[first], channel[first]
        rank = _rank_within(self.pop.officer[lead])
        keep = rank < capacity
        return np.column_stack([lead[keep], channel[keep], rank[keep]])

    def _crm_rows(self, day: int, idx: IntArray) -> pd.DataFrame:
        columns = {name: array.take(idx) for name, array in self.lead_arrays.items()}
        touches = self.obs_touches[idx]
        known = self.pop.zone_known[idx]
        consent = self.pop.consent[idx]
        opted, dnc = self.obs_opted_out[idx], self.obs_dnc[idx]
        channel_names = np.array([c.value for c in CHANNELS] + [None], dtype=object)
        outcome_names = np.array([o.value for o in OUTCOMES] + [None], dtype=object)
        columns.update(
            {
                "days_open": day - self.pop.day[idx],
                "touches_total": touches.sum(axis=1),
                "touches_call": touches[:, CALL],
                "touches_text": touches[:, TEXT],
                "touches_email": touches[:, EMAIL],
                "first_touch_at": _timestamps(self.obs_first_touch[idx]),
                "last_touch_at": _timestamps(self.obs_last_touch[idx]),
                "last_touch_channel": pd.array(
                    channel_names[self.obs_last_channel[idx]], dtype="string"
                ),
                "last_call_outcome": pd.array(
                    outcome_names[self.obs_last_outcome[idx]], dtype="string"
                ),
                "inbound_total": self.obs_inbound[idx],
                "last_inbound_at": _timestamps(self.obs_last_inbound[idx]),
                "last_message_at": _timestamps(self.obs_last_message[idx]),
                "web_visits_total": self.obs_visits[idx],
                "can_call": consent[:, CALL] & known & ~opted[:, CALL] & ~dnc,
                "can_text": consent[:, TEXT] & known & ~opted[:, TEXT] & ~dnc,
                "can_email": consent[:, EMAIL] & ~opted[:, EMAIL],
            }
        )
        return pd.DataFrame(columns, copy=False)

    def _events_before(self, count: int) -> pd.DataFrame:
        """The first `count` released events (what was visible when a view was made).

        Cached and extended from the last call, since policies that rank on features ask daily.
        """
        cached_count, cached = self._events_cache or (0, None)
        if cached is not None and cached_count == count:
            return cached
        arrays = _concat(self.log.released, _RELEASED_FIELDS)
        if cached is not None and cached_count < count:
            new = self._events_frame(_take(arrays, slice(cached_count, count)))
            frame = pd.concat([cached, new], ignore_index=True)
        else:
            frame = self._events_frame(_take(arrays, slice(0, count)))
        self._events_cache = (count, frame)
        return frame

    def _events_frame(self, arrays: EventArrays) -> pd.DataFrame:
        return events_frame(arrays, self.lead_ids.to_numpy(), self.texts.texts)

    # -- new leads and first responses ---------------------------------------------------------

    def _create_leads(self, day: int) -> None:
        idx = np.arange(self.first_lead_of_day[day], self.first_lead_of_day[day + 1])
        if idx.size == 0:
            return
        pop = self.pop
        self.log.add(idx, pop.created_s[idx], ET[EventType.LEAD_CREATED])
        new_rows = pop.leads.iloc[idx].reset_index(drop=True)
        delay = np.asarray(
            self.policy.first_response_delay_s(
                new_rows, np.random.default_rng([self.seed, 302, day])
            ),
            dtype=np.float64,
        )
        if delay.shape != idx.shape:
            raise PolicyError(
                f"{self.policy.name}.first_response_delay_s returned {delay.shape[0]} delays "
                f"for {idx.size} new leads; return one per row (NaN for no first response)"
            )
        has_lane = np.isfinite(delay)
        lead = idx[has_lane]
        t = pop.created_s[lead] + np.maximum(delay[has_lane], 1.0).astype(np.int64)
        channel = np.full(lead.size, -1, dtype=np.int64)
        reachable = np.zeros((lead.size, 3), dtype=bool)
        for k, wanted in enumerate(self.policy.first_response_channels):
            code = CHANNELS.index(Channel(wanted))
            ok = pop.consent[lead, code]
            if code != EMAIL:
                ok = ok & pop.zone_known[lead]
                reachable[:, k] = ok
                ok = ok & self._legal_at(lead, t)
            pick = (channel < 0) & ok
            channel[pick] = code
        # No channel usable right now: call or text at the next legal moment, if any is allowed.
        wait = (channel < 0) & reachable.any(axis=1)
        if wait.any():
            w = np.flatnonzero(wait)
            first_ok = np.argmax(reachable[w], axis=1)
            codes = np.array(
                [CHANNELS.index(Channel(c)) for c in self.policy.first_response_channels]
            )
            channel[w] = codes[first_ok]
            jitter = (uniform(self.seed, Stream.LANE, lead[w]) * 1800).astype(np.int64)
            t[w] = self._next_legal_start(lead[w], t[w]) + jitter
        keep = (channel >= 0) & (t < self.clock.period_end_s)
        for name, values in (("lead", lead[keep]), ("t", t[keep]), ("channel", channel[keep])):
            self.lane[name] = np.concatenate([self.lane[name], values])

    def _legal_at(self, lead: IntArray, t: IntArray) -> BoolArray:
        """Inside local calling hours: 8:00 to 21:00 (20:00 in FL, OK, MD), minus a margin."""
        local = self.clock.local_seconds_of_day(self.pop.zone[lead], t)
        end = self.pop.state_end_hour[lead] * 3600 - CALL_END_MARGIN_S
        return np.asarray((local >= CALL_START_S) & (local < end), dtype=bool)

    def _next_legal_start(self, lead: IntArray, t: IntArray) -> IntArray:
        local = self.clock.local_seconds_of_day(self.pop.zone[lead], t)
        to_start = np.where(
            local < CALL_START_S, CALL_START_S - local, SECONDS_PER_DAY - local + CALL_START_S
        )
        return np.asarray(t + to_start, dtype=np.int64)

    # -- latent readiness and the outcome ---------------------------------------------------------

    def _hazard(self, day: int, alive: IntArray) -> IntArray:
        """Move readiness one day, compute today's hazard, return the leads that apply today."""
        if alive.size == 0:
            return alive
        pop = self.pop
        new = pop.day[alive] == day
        age_months = (day - pop.day[alive]) / DAYS_PER_MONTH
        months_left = pop.months_to_ready[alive] - age_months
        noise = normal(self.seed, Stream.READINESS, alive, day)
        r = next_readiness(self.readiness[alive], readiness_target(months_left), noise, new)
        self.readiness[alive] = r
        gap = pop.quoted_rate_pct[alive] - self.rates_pct[day]
        h = daily_application_hazard(
            self.const_log[alive],
            r,
            self.touches[alive].sum(axis=1).astype(np.float64),
            self.speed[alive],
            rate_log_factor(gap, self.is_refinance[alive]),
            self.engagement[alive],
            self.appointment_until[alive] >= day,
        )
        self.cum_hazard[alive] -= np.log1p(-h)
        is_open = self.applied_day[alive] < 0
        if self.config.record_daily_hazard:
            start = self.hazard_offsets[day]
            self.hazard_values[start : start + alive.size] = h
            self.hazard_is_open[start : start + alive.size] = is_open
        applying = alive[is_open & (self.cum_hazard[alive] >= self.threshold[alive])]
        if applying.size:
            local = (8 * 3600 + uniform(self.seed, Stream.APPLY_TIME, applying) * 14 * 3600).astype(
                np.int64
            )
            t = self.clock.local_to_utc(pop.zone[applying], np.full(applying.size, day), local)
            low = np.maximum(self.clock.day_bounds_s[day], pop.created_s[applying] + 60)
            t = np.clip(t, low, self.clock.day_bounds_s[day + 1] - 1)
            self.applied_day[applying] = day
            self.applied_at_s[applying] = t
        return applying

    def _record_applications(self, applying: IntArray) -> None:
        if applying.size == 0:
            return
        t = self.applied_at_s[applying]
        self.log.add(applying, t, ET[EventType.APPLICATION_SUBMITTED])
        funded = uniform(self.seed, Stream.FUNDING, applying) < FUNDED_SHARE
        wait_s = (
            (21 + 29 * uniform(self.seed, Stream.FUNDING, applying, slot=1)) * SECONDS_PER_DAY
        ).astype(np.int64)
        t_fund = t + wait_s
        keep = funded & (t_fund < self.clock.period_end_s)
        self.log.add(applying[keep], t_fund[keep], ET[EventType.LOAN_FUNDED])

    # -- touches and reactions ------------------------------------------------------------------

    def _touches(self, day: int, plan: IntArray | None) -> dict[str, IntArray]:
        """Make today's legal touches; returns them (lead, t, channel) for the state update."""
        clock, pop = self.clock, self.pop
        end_of_day = int(clock.day_bounds_s[day + 1])
        leads_, times, channels = [], [], []
        if plan is not None and plan.size:
            lead, channel, rank = plan[:, 0], plan[:, 1], plan[:, 2]
            office = np.full(lead.size, clock.office_zone_index, dtype=np.int64)
            days = np.full(lead.size, day, dtype=np.int64)
            w0 = clock.local_to_utc(office, days, np.full(lead.size, WORK_START_S))
            w1 = clock.local_to_utc(office, days, np.full(lead.size, WORK_END_S))
            slot = (rank + uniform(self.seed, Stream.TOUCH_TIME, lead, day, channel)) / max(
                self.config.daily_capacity, 1
            )
            t = (w0 + slot * (w1 - w0)).astype(np.int64)
            phone = channel != EMAIL
            l0 = clock.local_to_utc(pop.zone[lead], days, np.full(lead.size, CALL_START_S))
            l1 = clock.local_to_utc(
                pop.zone[lead], days, pop.state_end_hour[lead] * 3600 - CALL_END_MARGIN_S
            )
            low = np.where(phone, np.maximum(w0, l0), w0)
            high = np.where(phone, np.minimum(w1, l1), w1)
            feasible = high - low > 120
            t = np.clip(t, low, high - 60)
            leads_.append(lead[feasible])
            times.append(t[feasible])
            channels.append(channel[feasible])
        due = self.lane["t"] < end_of_day
        if due.any():
            leads_.append(self.lane["lead"][due])
            times.append(self.lane["t"][due])
            channels.append(self.lane["channel"][due])
            for name in self.lane:
                self.lane[name] = self.lane[name][~due]
        if not leads_:
            return {"lead": np.empty(0, dtype=np.int64), "t": np.empty(0, dtype=np.int64),
                    "channel": np.empty(0, dtype=np.int64)}  # fmt: skip
        lead, t, channel = np.concatenate(leads_), np.concatenate(times), np.concatenate(channels)
        lead, t, channel = self._lawful(lead, t, channel)
        rho = _sigmoid(self.readiness)
        stop_at = self._calls(day, lead[channel == CALL], t[channel == CALL], rho)
        texts = channel == TEXT
        blocked = texts & (t > stop_at.get_dnc(lead))
        lead, t, channel = lead[~blocked], t[~blocked], channel[~blocked]
        self._texts(day, lead[channel == TEXT], t[channel == TEXT], rho)
        self._emails(day, lead[channel == EMAIL], t[channel == EMAIL], rho)
        return {"lead": lead, "t": t, "channel": channel}

    def _lawful(
        self, lead: IntArray, t: IntArray, channel: IntArray
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Keep the touches the law and the lead's wishes allow, earliest per lead and channel."""
        pop = self.pop
        ok = (t > pop.created_s[lead]) & (t < self.applied_at_s[lead])
        ok &= t < self.clock.period_end_s
        ok &= pop.consent[lead, channel] & ~self.opted_out[lead, channel]
        phone = channel != EMAIL
        ok &= ~phone | (pop.zone_known[lead] & ~self.dnc[lead] & self._legal_at(lead, t))
        lead, t, channel = lead[ok], t[ok], channel[ok]
        order = np.lexsort((t, channel, lead))
        lead, t, channel = lead[order], t[order], channel[order]
        first = np.ones(lead.size, dtype=bool)
        first[1:] = (lead[1:] != lead[:-1]) | (channel[1:] != channel[:-1])
        lead, t, channel = lead[first], t[first], channel[first]
        # State caps (FL, OK: calls; MD: calls and texts): at most 3 in any 24 hours.
        scope = pop.state_cap_scope[lead]
        counted = ((scope == 1) & (channel == CALL)) | ((scope == 2) & (channel != EMAIL))
        if counted.any():
            rows = np.flatnonzero(counted)
            order = rows[np.lexsort((t[rows], lead[rows]))]
            recent = self.recent_contacts[lead[order]]
            before = (recent > (t[order] - SECONDS_PER_DAY)[:, None]).sum(axis=1)
            earlier_today = _rank_within(lead[order])
            over = before + earlier_today >= STATE_CAP_PER_24H
            keep = np.ones(lead.size, dtype=bool)
            keep[order[over]] = False
            lead, t, channel = lead[keep], t[keep], channel[keep]
            counted = counted[keep]
            for row in np.flatnonzero(counted)[np.argsort(t[counted], kind="stable")]:
                history = self.recent_contacts[lead[row]]
                history[np.argmin(history)] = t[row]
        return lead, t, channel

    def _calls(self, day: int, lead: IntArray, t: IntArray, rho: FloatArray) -> _StopTimes:
        stops = _StopTimes(self.n)
        if lead.size == 0:
            return stops
        u = [uniform(self.seed, Stream.CALL, lead, day, k) for k in range(7)]
        r = rho[lead]
        zone = self.pop.zone[lead]
        hour = self.clock.local_seconds_of_day(zone, t) / 3600
        weekday = self.clock.local_weekday(zone, t)
        # Best windows 8-9 AM and 4-6 PM, Wednesday and Thursday; worst Monday morning and
        # Friday afternoon (DOMAIN.md).
        bonus = (
            0.06 * (((hour >= 8) & (hour < 9)) | ((hour >= 16) & (hour < 18)))
            + 0.03 * np.isin(weekday, (2, 3))
            - 0.05 * ((weekday == 0) & (hour < 12))
            - 0.05 * ((weekday == 4) & (hour >= 12))
        )
        p_connect, p_stop, p_not, p_appt = call_outcome_chances(r, self.calls_made[lead], bonus)
        connected = u[0] < p_connect
        outcome = np.where(
            connected,
            np.select(
                [u[2] < p_stop, u[2] < p_stop + p_not, u[2] < p_stop + p_not + p_appt],
                [OC[CallOutcome.ASKED_TO_STOP], OC[CallOutcome.NOT_INTERESTED],
                 OC[CallOutcome.APPOINTMENT_SET]],
                OC[CallOutcome.CONNECTED],
            ),
            np.where(u[1] < 0.4, OC[CallOutcome.VOICEMAIL], OC[CallOutcome.NO_ANSWER]),
        )  # fmt: skip
        self.log.add(lead, t, ET[EventType.CALL], channel=CALL, outcome=outcome)
        self.calls_made[lead] += 1
        stop = outcome == OC[CallOutcome.ASKED_TO_STOP]
        self.log.add(
            lead[stop],
            t[stop] + 45,
            ET[EventType.OPT_OUT],
            channel=CALL,
            text=self.texts.codes((content.CALL_OPT_OUT_TEXT,)),
        )
        self.opted_out[lead[stop], CALL] = True
        dnc = connected & ~stop & (u[3] < 0.004)
        self.log.add(
            lead[dnc],
            t[dnc] + 90,
            ET[EventType.DNC_REQUEST],
            text=self.texts.codes((content.DNC_TEXT,)),
        )
        self.dnc[lead[dnc]] = True
        stops.dnc_at[lead[dnc]] = t[dnc] + 90
        talked = connected & ~stop & (outcome != OC[CallOutcome.NOT_INTERESTED])
        asks = talked & (u[4] < 0.08 + 0.25 * r)
        self._questions(lead[asks], t[asks] + 60 + (u[5][asks] * 540).astype(np.int64), u[6][asks],
                        channel=CALL)  # fmt: skip
        positive = talked | (outcome == OC[CallOutcome.APPOINTMENT_SET])
        self.last_positive_day[lead[positive]] = day
        np.add.at(self.engagement, lead[positive], ENGAGEMENT_PER_REPLY)
        appt = outcome == OC[CallOutcome.APPOINTMENT_SET]
        self.appointment_until[lead[appt]] = day + APPOINTMENT_DAYS
        return stops

    def _texts(self, day: int, lead: IntArray, t: IntArray, rho: FloatArray) -> None:
        if lead.size == 0:
            return
        u = [uniform(self.seed, Stream.TEXT, lead, day, k) for k in range(6)]
        r = rho[lead]
        self.log.add(lead, t, ET[EventType.TEXT_SENT], channel=TEXT)
        opt = u[0] < np.minimum(0.004 + 0.015 * self.unanswered_texts[lead], 0.12)
        words = self.texts.codes(content.TEXT_OPT_OUT_WORDS)
        self.log.add(
            lead[opt],
            t[opt] + _lognormal_s(u[1][opt], 360.0, 1.0, 86_400.0),
            ET[EventType.OPT_OUT],
            channel=TEXT,
            text=words[(u[2][opt] * len(words)).astype(np.int64)],
        )
        self.opted_out[lead[opt], TEXT] = True
        p_reply = text_reply_chance(r, self.pop.intent[lead])
        reply = ~opt & (u[3] < p_reply)
        reply_t = t[reply] + _lognormal_s(u[1][reply], 840.0, 1.3, 2 * 86_400.0)
        engaged = self.texts.codes(content.REPLIES_ENGAGED)
        cool = self.texts.codes(content.REPLIES_COOL)
        pick = u[2][reply]
        text = np.where(
            r[reply] > 0.35,
            engaged[(pick * len(engaged)).astype(np.int64)],
            cool[(pick * len(cool)).astype(np.int64)],
        )
        self.log.add(lead[reply], reply_t, ET[EventType.TEXT_REPLIED], channel=TEXT, text=text)
        asks = u[4][reply] < 0.1 + 0.2 * r[reply]
        self._questions(lead[reply][asks], reply_t[asks] + 30, u[5][reply][asks], channel=TEXT)
        self.unanswered_texts[lead] += 1
        self.unanswered_texts[lead[reply]] = 0
        self.last_positive_day[lead[reply]] = day
        np.add.at(self.engagement, lead[reply], ENGAGEMENT_PER_REPLY)

    def _emails(self, day: int, lead: IntArray, t: IntArray, rho: FloatArray) -> None:
        if lead.size == 0:
            return
        u = [uniform(self.seed, Stream.EMAIL, lead, day, k) for k in range(6)]
        r = rho[lead]
        self.log.add(lead, t, ET[EventType.EMAIL_SENT], channel=EMAIL)
        p_open = email_open_chance(r, self.pop.intent[lead])
        opened = u[0] < p_open
        open_t = t[opened] + _lognormal_s(u[1][opened], 9000.0, 1.3, 10 * 86_400.0)
        self.log.add(lead[opened], open_t, ET[EventType.EMAIL_OPENED], channel=EMAIL)
        ro = r[opened]
        clicked = u[2][opened] < email_click_chance(ro)
        click_t = open_t[clicked] + _lognormal_s(u[3][opened][clicked], 40.0, 0.8, 3600.0)
        self.log.add(lead[opened][clicked], click_t, ET[EventType.EMAIL_CLICKED], channel=EMAIL)
        pages = np.array([content.PAGES.index(p) for p in content.EMAIL_CLICK_PAGES])
        page = pages[(u[4][opened][clicked] * len(pages)).astype(np.int64)]
        self.log.add(lead[opened][clicked], click_t + 3, ET[EventType.WEB_VISIT], page=page)
        unsubscribe = ~clicked & (u[5][opened] < 0.015)
        self.log.add(
            lead[opened][unsubscribe],
            open_t[unsubscribe] + 20,
            ET[EventType.OPT_OUT],
            channel=EMAIL,
            text=self.texts.codes((content.EMAIL_OPT_OUT_TEXT,)),
        )
        self.opted_out[lead[opened][unsubscribe], EMAIL] = True
        self.last_positive_day[lead[opened][clicked]] = day
        np.add.at(self.engagement, lead[opened][clicked], ENGAGEMENT_PER_CLICK)

    def _questions(self, lead: IntArray, t: IntArray, u: FloatArray, channel: int) -> None:
        if lead.size == 0:
            return
        topic = self._topics(lead, u)
        text = np.empty(lead.size, dtype=np.int64)
        for k, name in enumerate(TOPICS):
            rows = topic == k
            options = self.texts.codes(content.QUESTION_TEXTS[name])
            text[rows] = options[(lead[rows] + t[rows]) % len(options)]
        self.log.add(lead, t, ET[EventType.QUESTION_ASKED], channel=channel, topic=topic, text=text)

    def _topics(self, lead: IntArray, u: FloatArray) -> IntArray:
        pop = self.pop
        r = _sigmoid(self.readiness[lead])
        refi = self.is_refinance[lead]
        weak_credit = np.isin(pop.credit[lead], (2, 3, 4))  # fair, poor, unknown
        weights = np.column_stack(
            [
                1.0 + 2.0 * refi,  # rates
                0.2 + 2.0 * r,  # documents
                np.where(refi, 0.1, 0.3 + 1.5 * r),  # pre_approval
                0.3 + 1.2 * weak_credit,  # credit
                np.where(refi, 0.05, 0.8 * (1 - r)),  # down_payment
            ]
        )
        assert [t.value for t in TOPICS] == [
            "rates", "documents", "pre_approval", "credit", "down_payment"
        ]  # fmt: skip
        return _choose(u, weights)

    # -- what leads do on their own --------------------------------------------------------------

    def _lead_activity(self, day: int, leads: IntArray) -> None:
        if leads.size == 0:
            return
        pop = self.pop
        r = _sigmoid(self.readiness[leads])
        gap = np.maximum(pop.quoted_rate_pct[leads] - self.rates_pct[day], 0.0)
        boost = np.exp(np.where(self.is_refinance[leads], 1.3, 0.3) * gap)
        recent = (day - self.last_positive_day[leads]) <= 3
        rate = (0.003 + 0.12 * r**2.5) * np.sqrt(pop.intent[leads]) * boost * (1 + recent)
        u = uniform(self.seed, Stream.VISITS, leads, day)
        p0 = np.exp(-rate)
        cdf1 = p0 * (1 + rate)
        cdf2 = cdf1 + p0 * rate**2 / 2
        count = (u > p0).astype(np.int64) + (u > cdf1) + (u > cdf2)
        visitor = np.repeat(leads, count)
        if visitor.size:
            k = np.concatenate([np.arange(c) for c in count[count > 0]])
            t = self._activity_times(day, visitor, k, Stream.VISIT_DETAIL)
            page = self._pages(
                visitor, uniform(self.seed, Stream.VISIT_DETAIL, visitor, day, 10 + k)
            )
            self.log.add(visitor, t, ET[EventType.WEB_VISIT], page=page)
        # Questions through the site's form, and unprompted news about their plans.
        uq = uniform(self.seed, Stream.QUESTION, leads, day)
        asks = uq < 0.0003 + 0.003 * r**2
        if asks.any():
            who = leads[asks]
            t = self._activity_times(day, who, np.zeros(who.size, dtype=np.int64), Stream.QUESTION)
            self._questions(who, t, uniform(self.seed, Stream.QUESTION, who, day, 5), channel=-1)
        us = uniform(self.seed, Stream.STATEMENT, leads, day)
        p_ready = 0.003 * r**2
        p_not = 0.0004 * (1 - r)
        p_rate = 0.0015 * (self.is_refinance[leads] & (gap > 0.25))
        says = us < p_ready + p_not + p_rate
        if says.any():
            who = leads[says]
            which = np.select(
                [us[says] < p_ready[says], us[says] < p_ready[says] + p_not[says]], [0, 1], 2
            )
            pick = uniform(self.seed, Stream.STATEMENT, who, day, 1)
            text = np.empty(who.size, dtype=np.int64)
            for kind, options_text in enumerate(
                (
                    content.STATEMENTS_READY,
                    content.STATEMENTS_NOT_READY,
                    content.STATEMENTS_RATE_DROP,
                )
            ):
                rows = which == kind
                options = self.texts.codes(options_text)
                text[rows] = options[(pick[rows] * len(options)).astype(np.int64)]
            t = self._activity_times(day, who, np.zeros(who.size, dtype=np.int64), Stream.STATEMENT)
            self.log.add(who, t, ET[EventType.STATEMENT], text=text)

    def _activity_times(self, day: int, lead: IntArray, k: IntArray, stream: Stream) -> IntArray:
        """A local time of day with the lunch and evening peaks, within today, after creation."""
        clock, pop = self.clock, self.pop
        u_hour = uniform(self.seed, stream, lead, day, 20 + 2 * k)
        u_sec = uniform(self.seed, stream, lead, day, 21 + 2 * k)
        hour = np.minimum(np.searchsorted(self.hour_cdf, u_hour), 23)
        local = hour * 3600 + (u_sec * 3600).astype(np.int64)
        t = clock.local_to_utc(pop.zone[lead], np.full(lead.size, day), local)
        start = clock.day_bounds_s[day]
        t = np.where(t < start, t + SECONDS_PER_DAY, t)
        created = pop.created_s[lead]
        fresh = t <= created
        t[fresh] = created[fresh] + 60 + (u_sec[fresh] * 3 * 3600).astype(np.int64)
        return np.asarray(t, dtype=np.int64)

    def _pages(self, lead: IntArray, u: FloatArray) -> IntArray:
        r = _sigmoid(self.readiness[lead])
        base = np.array(content.PAGE_BASE_WEIGHT)
        slope = np.array(content.PAGE_READINESS_SLOPE)
        weights = base[None, :] * np.exp(slope[None, :] * 3 * r[:, None])
        refi = self.is_refinance[lead]
        for page, factor in content.REFINANCE_PAGE_BOOST.items():
            weights[refi, content.PAGES.index(page)] *= factor
        for page in content.PURCHASE_ONLY_PAGES:
            weights[refi, content.PAGES.index(page)] = 0.0
        return _choose(u, weights)

    # -- state after the day ----------------------------------------------------------------------

    def _update_after_touches(self, touches: dict[str, IntArray]) -> None:
        self.engagement *= ENGAGEMENT_DECAY
        lead, t, channel = touches["lead"], touches["t"], touches["channel"]
        if lead.size == 0:
            return
        np.add.at(self.touches, (lead, channel), 1)
        np.add.at(self.engagement, lead, ENGAGEMENT_PER_TOUCH)
        order = np.argsort(t, kind="stable")
        lead, t, channel = lead[order], t[order], channel[order]
        fresh = self.first_touch_s[lead] < 0
        fl, ft, fc = lead[fresh], t[fresh], channel[fresh]
        unique, position = np.unique(fl, return_index=True)
        if unique.size:
            ft, fc = ft[position], fc[position]
            self.first_touch_s[unique] = ft
            minutes = (ft - self.pop.created_s[unique]) / 60.0
            self.speed[unique] = first_touch_speed(minutes, fc)


@dataclass
class _StopTimes:
    """When a lead asked not to be contacted by phone today (DNC), per lead."""

    size: int
    dnc_at: IntArray = field(init=False)

    def __post_init__(self) -> None:
        self.dnc_at = np.full(self.size, np.iinfo(np.int64).max, dtype=np.int64)

    def get_dnc(self, lead: IntArray) -> IntArray:
        return self.dnc_at[lead]


def _rank_within(group: IntArray) -> IntArray:
    """0, 1, 2, ... within each group value, in the current row order."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    run = np.arange(group.size) - np.repeat(starts, np.diff(np.r_[starts, group.size]))
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = run
    return rank


def _last_per_lead(lead: IntArray) -> IntArray:
    """Row index of each lead's last row (rows are in time order)."""
    _, position = np.unique(lead[::-1], return_index=True)
    return np.asarray(lead.size - 1 - position, dtype=np.int64)


def _timestamps(seconds: IntArray) -> pd.arrays.DatetimeArray:
    """Epoch seconds (-1 for none) as UTC timestamps (NaT for none)."""
    nanoseconds = np.where(seconds >= 0, seconds * 1_000_000_000, np.iinfo(np.int64).min)
    return pd.DatetimeIndex(nanoseconds.astype("datetime64[ns]")).tz_localize("UTC").array


def events_frame(
    arrays: EventArrays, lead_ids: npt.NDArray[np.object_], texts: list[str]
) -> pd.DataFrame:
    """Event arrays as the events table (EVENT_COLUMNS), ids 'E' + zero-padded time-order number."""

    def labels(codes: IntArray, names: list[str]) -> pd.api.extensions.ExtensionArray:
        table = np.array([*names, None], dtype=object)
        return pd.array(table[np.where(codes >= 0, codes, len(names))], dtype="string")

    number = arrays["event_number"]
    frame = pd.DataFrame(
        {
            "event_id": pd.array([f"E{k + 1:09d}" for k in number], dtype="string"),
            "lead_id": pd.array(lead_ids[arrays["lead"]], dtype="string"),
            "occurred_at": pd.to_datetime(arrays["t"], unit="s", utc=True),
            "event_type": labels(arrays["etype"], [e.value for e in EVENT_TYPES]),
            "channel": labels(arrays["channel"], [c.value for c in CHANNELS]),
            "call_outcome": labels(arrays["outcome"], [o.value for o in OUTCOMES]),
            "question_topic": labels(arrays["topic"], [q.value for q in TOPICS]),
            "page": labels(arrays["page"], list(content.PAGES)),
            "text": labels(arrays["text"], texts),
        }
    )
    return frame.astype(EVENT_COLUMNS)


def run_simulation(config: SimulationConfig, policy: FollowUpPolicy) -> SimulationRun:
    """Step a world day by day under `policy` and return its arrays."""
    return _Simulation(config, policy).run()
