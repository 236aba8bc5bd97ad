"""The event log is the one thing to back up: restore it from a backup, delete the feature store
and the online store, run `leadscore features build`, and every officer's queue is the same as
before the loss (leads, order, lanes, probabilities, reasons, channels, holds)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from api_world import World, event, queue_at, serving_config
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadscore.cli import app as cli
from serving.app import create_app

pytestmark = pytest.mark.slow

OFFICERS = ("lo-01", "lo-02")


def _build(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LEADSCORE_HOME", str(home))
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", f"sqlite:///{home / 'log.db'}")
    result = CliRunner().invoke(cli, ["features", "build"])
    assert result.exit_code == 0, result.output
    return result.output


def _queues(world: World, home: Path, at: datetime, events: list[dict[str, Any]]) -> Any:
    """Both officers' queues at `at`, after ingesting `events` through the API."""
    with TestClient(create_app(serving_config(world, home))) as client:
        token = client.app.state.ctx.users.add(f"crm-{len(events)}", "crm")[1]  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token}"}
        if events:
            answer = client.post("/v1/events", headers=headers, json={"events": events})
            assert answer.json()["accepted"] == len(events)
        queues = {}
        for officer in OFFICERS:
            body = client.get(
                "/v1/queue", headers=headers, params={"officer": officer, "at": at.isoformat()}
            ).json()
            for volatile in ("request_id", "generated_at"):
                body.pop(volatile, None)
            queues[officer] = body
    return queues


def test_rebuilding_from_a_restored_event_log_gives_the_same_queues(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    serving_config(world, home)  # the world's event log and feature store, copied
    assert "full build" in _build(home, monkeypatch)
    at = queue_at()
    # a day's CRM traffic after the nightly build: only the API's refreshes carry it online
    traffic = [
        event("RB-1", "L01", "web_visit", page="/apply"),
        event("RB-2", "L03", "call", call_outcome="connected"),
        event("RB-3", "L05", "question_asked", question_topic="rates"),
        event("RB-4", "M02", "email_opened", channel="email"),
        event("RB-5", "L02", "opt_out", channel="call"),
    ]
    before = _queues(world, home, at, traffic)
    assert all(before[o]["items"] for o in OFFICERS)

    backup = tmp_path / "backup.db"  # what `sqlite3 log.db ".backup backup.db"` does
    with sqlite3.connect(home / "log.db") as source, sqlite3.connect(backup) as target:
        source.backup(target)

    # the loss: the event log, the Feast repository, its offline rows and its online store
    (home / "log.db").unlink()
    shutil.rmtree(home / "feast")
    shutil.copy(backup, home / "log.db")
    assert "full build" in _build(home, monkeypatch)  # no stored rows: it folds everything

    after = _queues(world, home, at, [])
    for officer in OFFICERS:
        assert after[officer] == before[officer], officer
