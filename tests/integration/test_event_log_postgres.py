"""The event log on a real PostgreSQL: same idempotence and round trip as on SQLite."""

from __future__ import annotations

import pandas as pd
import pytest

from features.event_log import EventLog

pytestmark = pytest.mark.integration


def test_postgres_event_log_is_idempotent_and_round_trips(
    postgres_url: str, tiny_leads: pd.DataFrame, tiny_events: pd.DataFrame
) -> None:
    log = EventLog(postgres_url)
    try:
        log.upsert_leads(tiny_leads)
        assert len(log.append_events(tiny_events).accepted) == 5
        again = log.append_events(tiny_events)
        assert again.accepted == []
        assert len(again.duplicates) == 5
        assert log.counts()["events"] == 5
        events = log.events(lead_ids=["L1"])
        assert events["event_id"].tolist() == ["E1", "E2"]
        assert str(events["occurred_at"].dt.tz) == "UTC"
        created = log.lead_created_at(["L2"])
        assert created["L2"] == tiny_leads.loc[1, "created_at"]
    finally:
        log.dispose()
