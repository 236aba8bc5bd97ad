"""Several workers: what `leadscore serve --workers N` warns about, and the online store never
left behind the event log when another worker's push races this one's (the live two-worker
run on PostgreSQL and Redis is tests/integration/test_production_profile.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_world import Api, event
from typer.testing import CliRunner

import serving.service as service
from features.event_log import EventLog
from features.store import LeadFeatureStore
from leadscore.cli import app
from leadscore.commands.service import shared_state_warnings
from leadscore.settings import Settings
from serving.ingest import ingest_records


def test_serve_offers_workers_in_its_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--workers" in result.output


def test_serve_refuses_zero_workers() -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "0"])
    assert result.exit_code == 2


def test_several_workers_on_local_files_are_warned_about_each_unshared_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "ONLINE_STORE", "RATE_LIMIT_STORAGE", "RATE_LIMIT"):
        monkeypatch.delenv(f"LEADSCORE_{name}", raising=False)
    assert shared_state_warnings(Settings(), 1) == []
    warned = shared_state_warnings(Settings(), 2)
    assert len(warned) == 3
    assert "SQLite event log" in warned[0]
    assert "SQLite online store" in warned[1]
    assert "2 times as many requests" in warned[2]
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", "postgresql+psycopg2://db/leads")
    monkeypatch.setenv("LEADSCORE_ONLINE_STORE", "redis")
    assert shared_state_warnings(Settings(), 4) == []  # the counters follow the online store
    monkeypatch.setenv("LEADSCORE_RATE_LIMIT_STORAGE", "memory://")
    assert len(shared_state_warnings(Settings(), 4)) == 1
    monkeypatch.setenv("LEADSCORE_RATE_LIMIT", "off")
    assert shared_state_warnings(Settings(), 4) == []


def test_a_push_overtaken_by_another_workers_event_is_redone(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker B commits an event for the lead after this worker's fold read the log and pushes
    first; this worker's push then overwrites B's row. The re-check after the push sees B's
    event and pushes again, so the online row holds both visits."""
    real = service.refresh_online_features
    pushes: list[list[str]] = []

    def overtaken(log: EventLog, store: LeadFeatureStore, lead_ids: Any, *, now: datetime) -> int:
        written = real(log, store, lead_ids, now=now)
        if not pushes:  # B's event, committed between this fold's read and its push
            b_visit = event("RACE-B", "L11", "web_visit", occurred_at=now - timedelta(seconds=2))
            ingest_records(log, "events", [b_visit], now=datetime.now(UTC))
        pushes.append(list(lead_ids))
        return written

    monkeypatch.setattr(service, "refresh_online_features", overtaken)
    now = datetime.now(UTC)
    before = api.ctx.feature_store.online_features(["L11"], now)["web_visits_1d"].iloc[0]
    visit = event("RACE-A", "L11", "web_visit", page="/apply")
    response = api.post("/v1/events", "crm", json={"events": [visit]})
    assert response.json()["accepted"] == 1
    assert pushes == [["L11"], ["L11"]]
    after = api.ctx.feature_store.online_features(["L11"], datetime.now(UTC))
    assert after["web_visits_1d"].iloc[0] == before + 2
