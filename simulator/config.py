"""The simulation's knobs: one frozen config object with laptop-sized defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simulator.clock import add_months


class SimulationConfigError(ValueError):
    """A SimulationConfig field is out of range; the message names the field and the range."""


@dataclass(frozen=True)
class SimulationConfig:
    """How big the simulated CRM is, its seed, and the scenario knobs (rates, drift).

    `leads_per_month` counts all officers together. `base_application_rate` scales the daily
    hazard so that the historical policy converts about that share of leads (it is a target,
    not a guarantee: the realised rate is a random outcome).
    """

    officers: int = 5
    months: int = 12
    leads_per_month: int = 200
    seed: int = 7
    start: date = date(2025, 1, 1)
    base_application_rate: float = 0.03
    daily_capacity: int = 40
    """Follow-up touches one officer can make on a working day (first responses come on top)."""
    working_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Days (Monday 0) on which officers make follow-up touches."""
    office_time_zone: str = "America/Chicago"
    """The lender's office: simulated days and working hours are in this zone."""
    start_rate_pct: float = 6.8
    rate_drop_pct: float = 0.5
    """Size of the one rate rally every history contains (points of the 30-year rate)."""
    rate_shock_pct: float = 0.0
    """Drift knob: an extra rate move (negative = drop) starting at rate_shock_at_fraction."""
    rate_shock_at_fraction: float = 0.75
    new_source_share: float = 0.0
    """Drift knob: from drift_start_fraction on, this share of leads comes from a new, low-intent
    online vendor (recorded as online_lead, so the meaning of the source shifts under the model)."""
    drift_start_fraction: float = 0.5
    record_daily_hazard: bool = True
    """Keep the lead-by-day hazard table (memory grows with leads x days)."""
    as_of_state_dates: tuple[date, ...] = ()
    """Days at whose start (midnight, office time) every open lead's latent state is recorded
    (SimulatedWorld.as_of_states), for the as-of oracle (simulator/as_of.py)."""
    future_seed: int | None = None
    future_from: date | None = None
    """With both set, every draw from the start of future_from on uses future_seed and open
    leads' application thresholds are redrawn: two runs share their past exactly and differ
    only after it (how tests prove the as-of oracle never reads the future)."""

    def __post_init__(self) -> None:
        _check_range("officers", self.officers, 1, 10_000)
        _check_range("months", self.months, 1, 120)
        _check_range("leads_per_month", self.leads_per_month, 1, 10_000_000)
        _check_range("seed", self.seed, 0, 2**63 - 1)
        _check_range("base_application_rate", self.base_application_rate, 0.0, 0.5)
        _check_range("daily_capacity", self.daily_capacity, 0, 100_000)
        _check_range("start_rate_pct", self.start_rate_pct, 1.0, 15.0)
        _check_range("rate_drop_pct", self.rate_drop_pct, 0.0, 5.0)
        _check_range("rate_shock_pct", self.rate_shock_pct, -5.0, 5.0)
        _check_range("rate_shock_at_fraction", self.rate_shock_at_fraction, 0.0, 1.0)
        _check_range("new_source_share", self.new_source_share, 0.0, 1.0)
        _check_range("drift_start_fraction", self.drift_start_fraction, 0.0, 1.0)
        if (self.future_seed is None) != (self.future_from is None):
            raise SimulationConfigError(
                "SimulationConfig.future_seed and future_from go together; set both or neither"
            )
        if self.future_seed is not None:
            _check_range("future_seed", self.future_seed, 0, 2**63 - 1)
        if any(day not in range(7) for day in self.working_weekdays):
            raise SimulationConfigError(
                f"working_weekdays={self.working_weekdays!r}: use weekday numbers 0 (Monday) to 6"
            )
        try:
            ZoneInfo(self.office_time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SimulationConfigError(
                f"office_time_zone={self.office_time_zone!r} is not an IANA zone; "
                "use e.g. 'America/Chicago'"
            ) from error

    @property
    def end(self) -> date:
        """The first day after the history."""
        return add_months(self.start, self.months)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def total_leads(self) -> int:
        return self.leads_per_month * self.months

    @property
    def officer_ids(self) -> tuple[str, ...]:
        """'lo-01', 'lo-02', ... (zero-padded to at least two digits)."""
        width = max(2, len(str(self.officers)))
        return tuple(f"lo-{k:0{width}d}" for k in range(1, self.officers + 1))


def _check_range(field: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise SimulationConfigError(
            f"SimulationConfig.{field}={value!r} is out of range; use a value in [{low}, {high}]"
        )
