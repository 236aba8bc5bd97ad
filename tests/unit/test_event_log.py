"""The event log: idempotent, transactional, append-only, round-trips the schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from features.event_log import EventLog


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(f"sqlite:///{tmp_path / 'log.db'}")


def test_sqlite_file_uses_wal(log: EventLog) -> None:
    with log.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_events_twice_keeps_row_count_and_reports_duplicates(
    log: EventLog, tiny_leads: pd.DataFrame, tiny_events: pd.DataFrame
) -> None:
    log.upsert_leads(tiny_leads)
    first = log.append_events(tiny_events)
    second = log.append_events(tiny_events)
    assert sorted(first.accepted) == sorted(tiny_events["event_id"])
    assert second.accepted == []
    assert sorted(second.duplicates) == sorted(tiny_events["event_id"])
    assert log.counts()["events"] == len(tiny_events)


def test_duplicate_inside_one_batch_is_stored_once(
    log: EventLog, tiny_events: pd.DataFrame
) -> None:
    batch = pd.concat([tiny_events, tiny_events.iloc[[0]]], ignore_index=True)
    result = log.append_events(batch)
    assert len(result.accepted) == len(tiny_events)
    assert result.duplicates == ["E1"]


def test_batch_is_all_or_nothing(log: EventLog, tiny_events: pd.DataFrame) -> None:
    broken = tiny_events.copy()
    broken.loc[4, "event_type"] = None  # NOT NULL violation in the last row
    with pytest.raises(Exception, match="(?i)not null|null"):
        log.append_events(broken)
    assert log.counts()["events"] == 0


def test_round_trip_keeps_values_and_utc(
    log: EventLog, tiny_leads: pd.DataFrame, tiny_events: pd.DataFrame
) -> None:
    log.upsert_leads(tiny_leads)
    log.append_events(tiny_events)
    leads = log.leads()
    events = log.events()
    pd.testing.assert_series_equal(
        leads["created_at"], tiny_leads["created_at"], check_names=False, check_dtype=False
    )
    assert str(events["occurred_at"].dt.tz) == "UTC"
    assert events["event_id"].tolist() == ["E1", "E2", "E3", "E4", "E5"]
    assert leads["consent_call"].tolist() == [True, True, False]
    assert pd.isna(leads.loc[2, "time_zone"])


def test_lead_update_changes_fields_not_count(log: EventLog, tiny_leads: pd.DataFrame) -> None:
    log.upsert_leads(tiny_leads)
    changed = tiny_leads.iloc[[0]].assign(consent_call=False)
    result = log.upsert_leads(changed)
    assert result.updated == ["L1"]
    assert result.created == []
    assert log.counts()["leads"] == 3
    assert not log.leads(lead_ids=["L1"])["consent_call"].iloc[0]


def test_events_until_is_inclusive(log: EventLog, tiny_events: pd.DataFrame) -> None:
    log.append_events(tiny_events)
    cut = tiny_events["occurred_at"].iloc[1]
    assert log.events(until=cut)["event_id"].tolist() == ["E1", "E2"]


def test_quarantine_keeps_reasons_and_raw_row(log: EventLog) -> None:
    bad = pd.DataFrame(
        {
            "event_id": ["E9"],
            "lead_id": ["L1"],
            "event_type": ["teleport"],
            "origin": ["events.csv"],
            "row_number": [7],
            "reasons": [["allowed_values: event_type: 'teleport' is not an event type"]],
        }
    )
    assert log.quarantine(bad, kind="events") == 1
    stored = log.quarantined(kind="events")
    assert stored.loc[0, "row_number"] == 7
    assert "teleport" in stored.loc[0, "reasons"]
    assert '"event_type": "teleport"' in stored.loc[0, "raw"]


def test_market_rates_are_idempotent(log: EventLog) -> None:
    rates = pd.DataFrame({"date": ["2025-01-01", "2025-01-02"], "rate_30y_pct": [6.8, 6.7]})
    assert log.put_market_rates(rates) == 2
    assert log.put_market_rates(rates) == 0
    assert log.market_rates()["rate_30y_pct"].tolist() == [6.8, 6.7]
