"""The team report's window, its rates, and its figures against the simulator's own summary."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from features.event_log import EventLog
from serving import analytics_views
from serving.analytics import (
    MAX_DAYS,
    AnalyticsInputError,
    Rate,
    build_team_report,
    report_window,
)
from serving.analytics_views import markdown, sections
from serving.db import create_serving_tables
from simulator import CadencePolicy, HistoricalPolicy, SimulationConfig, simulate, world_summary

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 10:30 in Chicago, two days after DST began


def test_90_days_ends_now_and_starts_at_midnight_89_days_before_today() -> None:
    window = report_window(None, None, None, zone=CHICAGO, now=NOW)
    assert window.until == NOW
    assert window.since.astimezone(CHICAGO) == datetime(2025, 12, 11, tzinfo=CHICAGO)
    assert len(window.days()) == 90
    assert window.days()[-1] == date(2026, 3, 10)


def test_a_window_ends_now_at_the_latest() -> None:
    window = report_window("2026-03-01", "2026-12-31", None, zone=CHICAGO, now=NOW)
    assert window.until == NOW
    assert window.days()[-1] == date(2026, 3, 10)
    with pytest.raises(AnalyticsInputError, match="before until"):
        report_window("2026-04-01", "2026-04-30", None, zone=CHICAGO, now=NOW)


def test_dates_are_whole_days_in_the_workday_zone_across_a_dst_change() -> None:
    window = report_window("2026-03-08", "2026-03-08", None, zone=CHICAGO, now=NOW)
    assert window.since == datetime(2026, 3, 8, 6, tzinfo=UTC)  # CST midnight
    assert window.until == datetime(2026, 3, 9, 5, tzinfo=UTC)  # CDT midnight: a 23-hour day
    assert window.days() == [date(2026, 3, 8)]


def test_a_date_time_with_an_offset_is_taken_as_given() -> None:
    window = report_window(
        "2026-03-01T08:00:00-05:00", "2026-03-02T00:00:00Z", "lo-01", zone=CHICAGO, now=NOW
    )
    assert window.since == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert window.until == datetime(2026, 3, 2, tzinfo=UTC)
    assert window.officer == "lo-01"


@pytest.mark.parametrize(
    ("since", "until", "officer", "field"),
    [
        ("0d", None, None, "since"),
        (f"{MAX_DAYS + 1}d", None, None, "since"),
        ("yesterday", None, None, "since"),
        ("2026-02-30", None, None, "since"),
        (None, "2026-03-01T00:00:00", None, "until"),
        ("2026-03-05", "2026-03-04", None, "since"),
        (None, None, "lo 01", "officer"),
    ],
)
def test_bad_values_name_their_parameter(
    since: str | None, until: str | None, officer: str | None, field: str
) -> None:
    with pytest.raises(AnalyticsInputError) as caught:
        report_window(since, until, officer, zone=CHICAGO, now=NOW)
    assert caught.value.field == field


def test_a_rate_carries_a_wilson_interval_and_is_small_under_20() -> None:
    rate = Rate(10, 50)
    low, high = rate.interval or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.1124, 0.3304)  # Wilson 95%, by hand
    assert not rate.small
    assert Rate(3, 19).small
    assert Rate(0, 0).to_dict() == {
        "count": 0,
        "of": 0,
        "rate": None,
        "low": None,
        "high": None,
        "small": True,
    }
    assert Rate(0, 40).interval == (0.0, pytest.approx(3.8415 / 43.8415, abs=1e-4))


def test_an_empty_window_draws_every_chart_without_a_warning(tmp_path: Path) -> None:
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    create_serving_tables(log.engine)
    window = report_window("2025-01-01", "2025-01-31", None, zone=CHICAGO)
    report = build_team_report(log, window, default_capacity=40, compensation_bps=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawn = sections(report)
        text = markdown(report, drawn)
    assert sum(len(s.charts) for s in drawn) == 8
    assert all(c.svg.lstrip().startswith("<?xml") for s in drawn for c in s.charts)
    assert "| First touch within 5 minutes | — |" in text


@pytest.mark.parametrize("policy", [HistoricalPolicy, CadencePolicy], ids=["before", "after"])
def test_the_report_agrees_with_the_simulators_own_summary(
    tmp_path: Path, policy: type[HistoricalPolicy] | type[CadencePolicy]
) -> None:
    """The brief's before/after figures, computed by the simulator from its frames, come out
    of the event log the same way: touches per lead, 5+ share, first-response speed."""
    config = SimulationConfig(officers=2, months=3, leads_per_month=80, seed=3)
    world = simulate(config, policy())
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upsert_leads(world.leads)
    log.append_events(world.events)
    create_serving_tables(log.engine)
    last = world.events["occurred_at"].max().astimezone(CHICAGO).date()
    window = report_window(
        (config.start - timedelta(days=1)).isoformat(),
        (last + timedelta(days=1)).isoformat(),
        None,
        zone=CHICAGO,
    )
    report = build_team_report(log, window, default_capacity=40, compensation_bps=100)
    expected = world_summary(world)

    assert report.follow_up.new_leads == len(world.leads)
    assert report.follow_up.mean_per_lead == pytest.approx(expected["touches_per_lead"])
    assert report.follow_up.five_plus.value == pytest.approx(expected["five_plus_touches_share"])
    speed = report.speed_to_lead
    assert speed.median_minutes == pytest.approx(expected["first_response_median_min"])
    assert speed.within_5_min.count == round(
        expected["first_response_within_5min_share"] * speed.contacted
    )
    applied = (world.events["event_type"] == "application_submitted").sum()
    assert report.counts["applications"] == applied
    assert report.counts["funded"] == round(expected["funded_per_month"] * config.months)


def test_a_big_team_draws_the_officers_with_the_most_applications(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = simulate(SimulationConfig(officers=3, months=2, leads_per_month=60, seed=5))
    log = EventLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upsert_leads(world.leads)
    log.append_events(world.events)
    create_serving_tables(log.engine)
    window = report_window("2025-01-01", "2025-03-31", None, zone=CHICAGO)
    report = build_team_report(log, window, default_capacity=40, compensation_bps=100)
    assert len(report.by_officer) == 3
    monkeypatch.setattr(analytics_views, "CHART_OFFICERS", 2)
    chart = next(c for s in sections(report) for c in s.charts if c.name == "applications")
    assert "top 2 of 3 officers" in chart.svg
    top = sorted(report.by_officer, key=lambda r: (-r.applications, -r.funded, r.key))
    assert f">{top[2].key}<" not in chart.svg
