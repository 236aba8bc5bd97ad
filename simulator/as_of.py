"""The as-of oracle: the simulator's probability of applying within the horizon given everything
true at the as-of instant, and nothing drawn after it.

The existing oracle (training.dataset.oracle_propensity) multiplies the hazards the lead really
had over the horizon: it knows touches not yet made, their outcomes and tomorrow's readiness
noise. No model can know those, so "distance to that oracle" mixes model error with the
future's luck. This one starts from the engine's state at the start of the as-of day
(SimulatedWorld.as_of_states: latent readiness and intent, touches so far and their effects,
the first response already scheduled) and averages the engine's own daily hazard over
``paths`` random futures under the historical follow-up policy, the policy the history was
simulated under:

- readiness walks on with fresh noise (engine.next_readiness, toward the lead's ready date);
- the market rate walks on (sd 0.025 points a weekday); rallies still to come are not known;
- a scheduled first response goes out when it was due; afterwards officers follow up by
  HistoricalPolicy.follow_up_chance on working days, on a channel the lead can still be
  reached on (call, text, email weighted 0.5/0.3/0.2), and each touch draws the engine's
  reactions (a conversation or a reply raises engagement, a call can set an appointment);
- the application itself: an open lead's remaining threshold is a fresh exponential
  (memorylessness), so the probability is 1 - mean over paths of prod(1 - hazard).

Left out, because they move the hazard little: officers re-engaging a lead who wrote to them
(the lead's own messages are not simulated forward), the call-time and channel-rotation details
of the call outcome, opt-outs drawn in the future. Cost: paths x leads x horizon, vectorized.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from simulator.config import SimulationConfig
from simulator.engine import (
    APPOINTMENT_DAYS,
    CALL,
    DAYS_PER_MONTH,
    EMAIL,
    ENGAGEMENT_DECAY,
    ENGAGEMENT_PER_CLICK,
    ENGAGEMENT_PER_REPLY,
    ENGAGEMENT_PER_TOUCH,
    TEXT,
    call_outcome_chances,
    daily_application_hazard,
    email_click_chance,
    email_open_chance,
    first_touch_speed,
    next_readiness,
    rate_log_factor,
    readiness_target,
    text_reply_chance,
)
from simulator.policies import HistoricalPolicy

FloatArray = npt.NDArray[np.float64]

PATHS: Final = 64
"""Random futures per lead: the Monte Carlo error of a probability p is about sqrt(p/64)
times the spread of the path survival, small against the spread between leads."""
RATE_DAILY_SD: Final = 0.025
"""The market walk's weekday step (simulator.market)."""
CHANNEL_WEIGHTS: Final = np.array([0.5, 0.3, 0.2])
"""HistoricalPolicy's call/text/email mix for a follow-up."""
MIDWEEK_CALL_BONUS: Final = 0.03
"""Wednesday and Thursday calls connect more often (the engine's weekday bonus)."""
SECONDS_PER_DAY: Final = 86_400
CHUNK_ROWS: Final = 8192
"""Rows simulated at once: paths x rows arrays stay a few MB whatever the evaluation's size."""

STATE_COLUMNS: Final = (
    "lead_id",
    "day",
    "as_of_s",
    "readiness",
    "months_left",
    "intent",
    "const_log",
    "is_refinance",
    "quoted_rate_pct",
    "market_rate_pct",
    "touches",
    "calls_made",
    "speed",
    "engagement",
    "appointment_days_left",
    "last_touch_s",
    "created_s",
    "first_response_s",
    "first_response_channel",
    "can_call",
    "can_text",
    "can_email",
)


class AsOfOracleError(ValueError):
    """The as-of oracle was asked about states it does not have."""


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def as_of_propensity(
    states: pd.DataFrame,
    config: SimulationConfig,
    *,
    horizon_days: int = 30,
    paths: int = PATHS,
    seed: int = 0,
    policy: HistoricalPolicy | None = None,
) -> FloatArray:
    """P(apply within horizon_days of each state's as-of day | its state then), one per row.

    states: rows of SimulatedWorld.as_of_states. seed draws the futures (independent of the
    world's seed: the world's own future is never read).
    """
    missing = [c for c in STATE_COLUMNS if c not in states.columns]
    if missing:
        raise AsOfOracleError(
            f"the states lack {missing}; record them with SimulationConfig.as_of_state_dates"
        )
    if horizon_days < 1 or paths < 1:
        raise AsOfOracleError(f"horizon_days and paths must be positive: {horizon_days}, {paths}")
    follow_up = policy or HistoricalPolicy(office_time_zone=config.office_time_zone)
    parts = [
        _paths_survival(
            states.iloc[start : start + CHUNK_ROWS],
            config,
            follow_up,
            horizon_days=horizon_days,
            paths=paths,
            rng=np.random.default_rng([seed, 4242, start]),
        )
        for start in range(0, len(states), CHUNK_ROWS)
    ]
    survival = np.concatenate(parts) if parts else np.empty(0)
    return np.asarray(np.clip(1.0 - survival, 0.0, 1.0), dtype=np.float64)


def _paths_survival(
    states: pd.DataFrame,
    config: SimulationConfig,
    follow_up: HistoricalPolicy,
    *,
    horizon_days: int,
    paths: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Mean over paths of the probability of not applying within the horizon, per row."""
    n = len(states)

    def column(name: str) -> FloatArray:
        return np.broadcast_to(states[name].to_numpy(dtype=np.float64), (paths, n)).copy()

    readiness = column("readiness")
    touches = column("touches")
    calls_made = column("calls_made")
    speed = column("speed")
    engagement = column("engagement")
    appointment_left = column("appointment_days_left")
    last_touch_s = column("last_touch_s")
    last_touch_s[last_touch_s < 0] = np.nan
    months_left = states["months_left"].to_numpy(dtype=np.float64)
    const_log = states["const_log"].to_numpy(dtype=np.float64)
    refinance = states["is_refinance"].to_numpy(dtype=bool)
    quoted = states["quoted_rate_pct"].to_numpy(dtype=np.float64)
    intent = states["intent"].to_numpy(dtype=np.float64)
    as_of_s = states["as_of_s"].to_numpy(dtype=np.float64)
    first_s = states["first_response_s"].to_numpy(dtype=np.float64)
    first_day = np.where(first_s >= 0, np.floor((first_s - as_of_s) / SECONDS_PER_DAY), -1)
    first_channel = states["first_response_channel"].to_numpy(dtype=np.int64)
    created_s = states["created_s"].to_numpy(dtype=np.float64)
    first_speed = first_touch_speed(np.maximum(first_s - created_s, 0) / 60.0, first_channel)
    allowed = states[["can_call", "can_text", "can_email"]].to_numpy(dtype=bool)
    weights = allowed * CHANNEL_WEIGHTS
    cumulative = np.cumsum(weights, axis=1)
    reachable = cumulative[:, -1] > 0
    cumulative = cumulative / np.where(reachable, cumulative[:, -1], 1.0)[:, None]
    day0 = states["day"].to_numpy(dtype=np.int64)
    first_weekday = config.start.weekday()
    rate = np.broadcast_to(states["market_rate_pct"].to_numpy(dtype=np.float64), (paths, n))

    log_survival = np.zeros((paths, n))
    for t in range(horizon_days):
        weekday = (first_weekday + day0 + t) % 7
        if t > 0:
            # Each row's market walks on its own: only its marginal path matters to that row.
            moves = rng.normal(0.0, RATE_DAILY_SD, size=(paths, n))
            rate = rate + np.where(weekday < 5, moves, 0.0)
        readiness = next_readiness(
            readiness,
            readiness_target(months_left - t / DAYS_PER_MONTH),
            rng.standard_normal((paths, n)),
            np.zeros((paths, n), dtype=bool),
        )
        hazard = daily_application_hazard(
            const_log,
            readiness,
            touches,
            speed,
            rate_log_factor(quoted - rate, refinance),
            engagement,
            appointment_left >= t,
        )
        log_survival += np.log1p(-hazard)

        # Today's touches: the scheduled first response, then the historical follow-up.
        first = (first_day == t) & (first_channel >= 0)
        channel = np.where(first, first_channel, -1)
        speed = np.where(first & (touches == 0), first_speed, speed)
        start_of_day = as_of_s + t * SECONDS_PER_DAY
        since = np.ceil((start_of_day - last_touch_s) / SECONDS_PER_DAY)
        since = np.where(np.isnan(since), np.inf, since)
        chance = follow_up.follow_up_chance(touches.astype(np.int64), since)
        working = np.isin(weekday, config.working_weekdays)
        wants = (rng.random((paths, n)) < chance) & working & reachable & ~first
        pick = (rng.random((paths, n))[..., None] > cumulative).sum(axis=-1)
        channel = np.where(wants, np.minimum(pick, 2), channel)
        touched = channel >= 0
        share = _sigmoid(readiness)
        reaction = np.zeros((paths, n))
        calls = touched & (channel == CALL)
        bonus = np.asarray(MIDWEEK_CALL_BONUS * np.isin(weekday, (2, 3)), dtype=np.float64)
        p_connect, p_stop, p_not, p_appt = call_outcome_chances(
            share, calls_made.astype(np.int64), bonus
        )
        connected = calls & (rng.random((paths, n)) < p_connect)
        u = rng.random((paths, n))
        talked = connected & (u >= p_stop + p_not)
        appointment = talked & (u < p_stop + p_not + p_appt)
        reaction += ENGAGEMENT_PER_REPLY * talked
        appointment_left = np.where(appointment, t + APPOINTMENT_DAYS, appointment_left)
        calls_made = calls_made + calls
        texts = touched & (channel == TEXT)
        reaction += ENGAGEMENT_PER_REPLY * (
            texts & (rng.random((paths, n)) < text_reply_chance(share, intent))
        )
        emails = touched & (channel == EMAIL)
        clicked = (
            emails
            & (rng.random((paths, n)) < email_open_chance(share, intent))
            & (rng.random((paths, n)) < email_click_chance(share))
        )
        reaction += ENGAGEMENT_PER_CLICK * clicked
        engagement = ENGAGEMENT_DECAY * (engagement + reaction) + ENGAGEMENT_PER_TOUCH * touched
        touches = touches + touched
        last_touch_s = np.where(touched, start_of_day + SECONDS_PER_DAY / 2, last_touch_s)

    return np.asarray(np.exp(log_survival).mean(axis=0), dtype=np.float64)
