"""The demo's planning link points at the next weekday 11:00 in the lender's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadscore.commands.service import planning_instant
from leadscore.settings import Settings


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 29, 10, 44, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC)),
        (datetime(2026, 11, 30, 15, 0, tzinfo=UTC), datetime(2026, 11, 30, 17, tzinfo=UTC)),
        (datetime(2026, 11, 30, 18, 0, tzinfo=UTC), datetime(2026, 12, 1, 17, tzinfo=UTC)),
        (datetime(2026, 12, 4, 20, 0, tzinfo=UTC), datetime(2026, 12, 7, 17, tzinfo=UTC)),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 1, 16, tzinfo=UTC)),
    ],
)
def test_planning_instant_is_the_next_weekday_late_morning(
    now: datetime, expected: datetime
) -> None:
    assert planning_instant(Settings(workday_time_zone="America/Chicago"), now) == expected
