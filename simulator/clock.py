"""The simulated calendar: office-local day boundaries and per-zone UTC offsets (epoch seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from data_contracts.enums import US_TIME_ZONES

SECONDS_PER_DAY = 86_400

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (clipped to the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in range(day.day, 27, -1):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


@dataclass(frozen=True)
class SimulationClock:
    """Day boundaries of the simulated period and the UTC offset of every US zone on every day.

    A simulated day is an office-local calendar day: it starts at midnight in the lenders'
    office time zone. Offsets are taken at local noon, which is right for every hour after the
    2 AM daylight-saving switch, so for every hour in which anyone works, calls or applies.
    """

    start: date
    days: int
    office_time_zone: str
    zones: tuple[str, ...]
    day_bounds_s: Int64Array  # days + 1 office-local midnights, as UTC epoch seconds
    utc_midnight_s: Int64Array  # UTC midnight of each calendar date, epoch seconds
    zone_offset_s: Int64Array  # [zone, day]: UTC offset (local = utc + offset), seconds

    @classmethod
    def build(cls, start: date, days: int, office_time_zone: str) -> SimulationClock:
        """Compute the boundaries and offsets for `days` days from `start`."""
        zones = tuple(sorted(US_TIME_ZONES | {office_time_zone}))
        dates = [start + timedelta(days=d) for d in range(days + 1)]
        office = ZoneInfo(office_time_zone)
        bounds = np.array(
            [int(datetime.combine(d, time(0), tzinfo=office).timestamp()) for d in dates],
            dtype=np.int64,
        )
        utc_midnight = np.array(
            [int(datetime.combine(d, time(0), tzinfo=UTC).timestamp()) for d in dates],
            dtype=np.int64,
        )
        offsets = np.zeros((len(zones), days + 1), dtype=np.int64)
        for z, name in enumerate(zones):
            info = ZoneInfo(name)
            for d, day in enumerate(dates):
                noon = datetime.combine(day, time(12), tzinfo=info)
                delta = noon.utcoffset()
                offsets[z, d] = int(delta.total_seconds()) if delta is not None else 0
        return cls(start, days, office_time_zone, zones, bounds, utc_midnight, offsets)

    @property
    def period_start_s(self) -> int:
        return int(self.day_bounds_s[0])

    @property
    def period_end_s(self) -> int:
        """The first second after the simulated period (exclusive)."""
        return int(self.day_bounds_s[self.days])

    def zone_index(self, zone: str) -> int:
        return self.zones.index(zone)

    @property
    def office_zone_index(self) -> int:
        return self.zone_index(self.office_time_zone)

    def day_of(self, t_s: Int64Array) -> Int64Array:
        """The simulated day index holding each timestamp (clipped to the period)."""
        index = np.searchsorted(self.day_bounds_s, t_s, side="right") - 1
        return np.clip(index, 0, self.days - 1).astype(np.int64)

    def local_to_utc(
        self, zone_idx: Int64Array, day: Int64Array, seconds_of_day: Int64Array
    ) -> Int64Array:
        """UTC epoch seconds of a local wall-clock time on calendar day `day` in each zone."""
        return (
            self.utc_midnight_s[day] + seconds_of_day - self.zone_offset_s[zone_idx, day]
        ).astype(np.int64)

    def local_seconds_of_day(self, zone_idx: Int64Array, t_s: Int64Array) -> Int64Array:
        """Local wall-clock seconds since midnight of each timestamp in each zone."""
        day = self.day_of(t_s)
        return ((t_s + self.zone_offset_s[zone_idx, day]) % SECONDS_PER_DAY).astype(np.int64)

    def local_weekday(self, zone_idx: Int64Array, t_s: Int64Array) -> Int64Array:
        """Local weekday (Monday 0) of each timestamp in each zone."""
        day = self.day_of(t_s)
        local_days = (t_s + self.zone_offset_s[zone_idx, day]) // SECONDS_PER_DAY
        # 1970-01-01 was a Thursday (weekday 3).
        return ((local_days + 3) % 7).astype(np.int64)

    def weekday(self, day: int) -> int:
        return (self.start + timedelta(days=day)).weekday()

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)
