"""The timeline-statement parser reads what leads say about when they will be ready."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from features.definitions import TIMELINE_SEGMENTS
from features.timeline import DAYS_PER_MONTH, parse_timeline

MARCH_10 = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
NOV_20 = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)
DEC_15 = datetime(2025, 12, 15, 12, 0, tzinfo=UTC)
JULY_4 = datetime(2025, 7, 4, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statement", "months", "segment"),
    [
        ("3 months", 3.0, "1_3_months"),
        ("Ready in 3 MONTHS!!", 3.0, "1_3_months"),
        ("3months", 3.0, "1_3_months"),
        ("six weeks", 6 * 7 / DAYS_PER_MONTH, "1_3_months"),
        ("a couple of months", 2.0, "1_3_months"),
        ("couple months maybe", 2.0, "1_3_months"),
        ("6-8 weeks", 6 * 7 / DAYS_PER_MONTH, "1_3_months"),  # a range: its lower bound
        ("6 – 8 weeks", 6 * 7 / DAYS_PER_MONTH, "1_3_months"),
        ("within 90 days", 90 / DAYS_PER_MONTH, "1_3_months"),
        ("in a year or two", 12.0, "6_plus_months"),
        ("1-2 years", 12.0, "6_plus_months"),
        ("half a year", 6.0, "3_6_months"),
        ("a month and a half", 1.5, "1_3_months"),
        ("1.5 years", 18.0, "6_plus_months"),
        ("twenty one days", 21 / DAYS_PER_MONTH, "1_3_months"),
        ("2 weeks", 14 / DAYS_PER_MONTH, "now"),
        ("six months", 6.0, "3_6_months"),
        ("twelve months", 12.0, "6_plus_months"),
        ("next week", 7 / DAYS_PER_MONTH, "now"),
        ("this time next year", 12.0, "6_plus_months"),
        ("not ready now, maybe in 6 months", 6.0, "3_6_months"),
        ("just looking for now, maybe in 4 months", 4.0, "3_6_months"),
    ],
)
def test_durations_count_from_the_statement(statement: str, months: float, segment: str) -> None:
    parsed = parse_timeline(statement, MARCH_10)

    assert parsed.months_to_ready == pytest.approx(months)
    assert parsed.ready_at == MARCH_10 + timedelta(days=months * DAYS_PER_MONTH)
    assert parsed.segment == segment
    assert parsed.rule == "duration"


@pytest.mark.parametrize(
    ("statement", "stated_at", "ready_at", "segment", "rule"),
    [
        # month names: this year when ahead, next year when past, now when current
        ("when my lease ends in August", MARCH_10, datetime(2025, 8, 1), "3_6_months", "month"),
        ("Lease ends August 31st.", MARCH_10, datetime(2025, 8, 31), "3_6_months", "month"),
        ("bonus in March", MARCH_10, MARCH_10, "now", "month"),
        ("bonus in February", MARCH_10, datetime(2026, 2, 1), "6_plus_months", "month"),
        ("next March", MARCH_10, datetime(2026, 3, 1), "6_plus_months", "month"),
        ("I may be ready in May", MARCH_10, datetime(2025, 5, 1), "1_3_months", "month"),
        ("after I sell in June", MARCH_10, datetime(2025, 6, 1), "1_3_months", "month"),
        ("after August", MARCH_10, datetime(2025, 9, 1), "3_6_months", "month"),
        ("August next year", MARCH_10, datetime(2026, 8, 1), "6_plus_months", "month"),
        (
            "lease ends in August, bonus in April",
            MARCH_10,
            datetime(2025, 4, 1),
            "1_3_months",
            "month",
        ),  # noqa: E501
        # month names wrap around the year end
        ("in February", NOV_20, datetime(2026, 2, 1), "1_3_months", "month"),
        ("January", DEC_15, datetime(2026, 1, 1), "1_3_months", "month"),
        ("by December", DEC_15, DEC_15, "now", "month"),
        ("lease is up in October", NOV_20, datetime(2026, 10, 1), "6_plus_months", "month"),
        # seasons (meteorological: spring March, summer June, fall September, winter December)
        ("next spring", NOV_20, datetime(2026, 3, 1), "3_6_months", "season"),
        ("this summer", MARCH_10, datetime(2025, 6, 1), "1_3_months", "season"),
        ("this summer", JULY_4, JULY_4, "now", "season"),
        ("next summer", JULY_4, datetime(2026, 6, 1), "6_plus_months", "season"),
        ("by fall", MARCH_10, datetime(2025, 9, 1), "3_6_months", "season"),
        ("after the summer", JULY_4, datetime(2025, 9, 1), "1_3_months", "season"),
        ("this winter", NOV_20, datetime(2025, 12, 1), "now", "season"),
        # year end, next year, next month, calendar years
        ("end of the year", MARCH_10, datetime(2025, 12, 1), "6_plus_months", "year_end"),
        ("by the end of the year", DEC_15, DEC_15, "now", "year_end"),
        ("end of next year", MARCH_10, datetime(2026, 12, 1), "6_plus_months", "year_end"),
        ("next year", NOV_20, datetime(2026, 1, 1), "1_3_months", "next_year"),
        ("early next year", MARCH_10, datetime(2026, 1, 1), "6_plus_months", "next_year"),
        ("next month", MARCH_10, datetime(2025, 4, 1), "1_3_months", "next_month"),
        ("sometime in 2027", MARCH_10, datetime(2027, 1, 1), "6_plus_months", "calendar_year"),
        # now
        ("ASAP", MARCH_10, MARCH_10, "now", "now"),
        ("A.S.A.P.", MARCH_10, MARCH_10, "now", "now"),
        ("right away please", MARCH_10, MARCH_10, "now", "now"),
        ("Ready now!", MARCH_10, MARCH_10, "now", "now"),
        ("We already found a house", MARCH_10, MARCH_10, "now", "now"),
        ("under contract", MARCH_10, MARCH_10, "now", "now"),
        ("asap, lease ends in August", MARCH_10, MARCH_10, "now", "now"),
    ],
)
def test_calendar_statements_resolve_against_the_statement_date(
    statement: str, stated_at: datetime, ready_at: datetime, segment: str, rule: str
) -> None:
    parsed = parse_timeline(statement, stated_at)

    assert parsed.ready_at == ready_at.replace(tzinfo=UTC)
    expected_months = (parsed.ready_at - stated_at).total_seconds() / 86_400 / DAYS_PER_MONTH
    assert parsed.months_to_ready == pytest.approx(expected_months)
    assert parsed.segment == segment
    assert parsed.rule == rule


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("just looking", "just_looking"),
        ("Just browsing!", "just_looking"),
        ("curious about rates", "just_looking"),
        ("not sure", "not_sure"),
        ("I don't know yet", "not_sure"),
        ("after I sell", "after_sale"),
        ("need to sell our house first", "after_sale"),
        ("waiting for my bonus", "bonus"),
        ("when my lease ends", "lease"),
        ("no rush", "no_rush"),
        ("one day", "no_rush"),
        ("not ready yet", "not_ready"),
        ("we started looking 3 months ago", "unknown"),
        ("if rates fall", "unknown"),
        ("haven't found a house yet", "unknown"),
        ("call me on my cell", "unknown"),
    ],
)
def test_what_it_cannot_read_is_unknown_and_names_the_intent(statement: str, rule: str) -> None:
    parsed = parse_timeline(statement, MARCH_10)

    assert parsed == type(parsed)(None, None, "unknown", rule)


def test_segments_are_the_shared_vocabulary() -> None:
    statements = ["ASAP", "2 months", "5 months", "next year", "just looking"]
    segments = {parse_timeline(s, MARCH_10).segment for s in statements}

    assert segments == set(TIMELINE_SEGMENTS)


def test_ready_at_is_utc_whatever_zone_stated_at_carries() -> None:
    eastern = timezone(timedelta(hours=-5))
    stated = datetime(2025, 3, 10, 10, 0, tzinfo=eastern)

    parsed = parse_timeline("3 months", stated)

    assert parsed.ready_at is not None
    assert parsed.ready_at.utcoffset() == timedelta(0)
    assert parsed.ready_at == MARCH_10 + timedelta(days=3 * DAYS_PER_MONTH)


def test_a_naive_stated_at_is_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_timeline("3 months", datetime(2025, 3, 10))
