"""The daily 30-year fixed mortgage rate: a mean-reverting random walk with scheduled moves."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

RATE_DROP_DAYS = 20
"""A rate rally plays out over about four weeks of trading, not overnight."""


def market_rates(
    rng: np.random.Generator,
    start: date,
    days: int,
    start_rate_pct: float,
    drop_pct: float,
    shock_pct: float,
    shock_at_fraction: float,
) -> FloatArray:
    """One rate per calendar day, in percent; weekends repeat Friday's quote.

    The walk moves on weekdays (sd 0.025 points a day, pulled gently back to its start), one
    rally of `drop_pct` points begins somewhere between 30% and 55% of the period, a smaller
    back-up (a quarter of the drop) follows a couple of months later, and an optional
    `shock_pct` move (a drift scenario) starts at `shock_at_fraction` of the period.
    """
    steps = rng.normal(0.0, 0.025, size=days)
    weekdays = np.array([(start + timedelta(days=d)).weekday() < 5 for d in range(days)])
    steps[~weekdays] = 0.0
    scheduled = np.zeros(days)
    drop_start = int(days * rng.uniform(0.30, 0.55))
    _spread_move(scheduled, drop_start, -drop_pct)
    _spread_move(scheduled, drop_start + int(rng.integers(45, 75)), drop_pct / 4)
    if shock_pct:
        _spread_move(scheduled, int(days * shock_at_fraction), shock_pct)
    rates = np.empty(days)
    level = start_rate_pct
    drift_target = start_rate_pct
    for d in range(days):
        drift_target += scheduled[d]
        level += steps[d] + scheduled[d] + 0.01 * (drift_target - level)
        rates[d] = level
    return np.clip(np.round(rates, 3), 2.0, 12.0)


def _spread_move(scheduled: FloatArray, first_day: int, total_pct: float) -> None:
    if first_day >= len(scheduled):
        return
    last = min(len(scheduled), first_day + RATE_DROP_DAYS)
    scheduled[first_day:last] += total_pct / (last - first_day)


def rates_frame(start: date, rates_pct: FloatArray) -> pd.DataFrame:
    """The rates table (MARKET_RATE_COLUMNS): date as 'YYYY-MM-DD' and rate_30y_pct."""
    dates = [(start + timedelta(days=d)).isoformat() for d in range(len(rates_pct))]
    return pd.DataFrame(
        {
            "date": pd.array(dates, dtype="string"),
            "rate_30y_pct": rates_pct.astype(np.float64),
        }
    )
