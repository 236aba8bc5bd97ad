"""The event log on a real PostgreSQL: same idempotence and round trip as on SQLite."""

from __future__ import annotations

import threading
from typing import Any

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


def test_two_processes_writing_the_same_events_at_once_store_each_once(
    postgres_url: str, tiny_leads: pd.DataFrame, tiny_events: pd.DataFrame
) -> None:
    """Two workers (two engines, as two processes have) take the same CRM retry at the same
    moment: every event is stored once, the other worker answers duplicate, nothing fails."""
    logs = [EventLog(postgres_url), EventLog(postgres_url)]
    try:
        logs[0].upsert_leads(tiny_leads)
        for round_number in range(10):
            batch = pd.concat(
                tiny_events.assign(event_id=tiny_events["event_id"] + f"-{round_number}-{k}")
                for k in range(10)
            )
            start = threading.Barrier(2)
            results: list[Any] = [None, None]

            def write(
                slot: int, batch: pd.DataFrame = batch, start: Any = start, results: Any = results
            ) -> None:
                start.wait()
                try:
                    results[slot] = logs[slot].append_events(batch)
                except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
                    results[slot] = exc

            threads = [threading.Thread(target=write, args=(slot,)) for slot in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not [r for r in results if isinstance(r, Exception)], results
            assert sorted(len(r.accepted) for r in results) == [0, len(batch)]
        assert logs[0].counts()["events"] == 10 * 10 * len(tiny_events)
    finally:
        for log in logs:
            log.dispose()
