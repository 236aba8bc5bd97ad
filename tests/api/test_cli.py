"""The service commands: users add/list/revoke, audit, and the demo's users and tokens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from api_world import World
from typer.testing import CliRunner

from features.event_log import EventLog
from leadscore.cli import app
from leadscore.commands.service import create_demo_users, parse_since
from leadscore.settings import Settings
from serving.auth import UserStore
from serving.db import create_serving_tables


@pytest.fixture
def home(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(world.log_path, tmp_path / "leadscore.db")
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    return tmp_path


def _users(home: Path) -> UserStore:
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    create_serving_tables(log.engine)
    return UserStore(log.engine)


def test_users_add_prints_the_token_once_and_revoke_disables_it(home: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "ana", "--role", "officer", "--officer", "lo-01", "--capacity", "25"]
    )
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    store = _users(home)
    user = store.authenticate(token)
    assert user is not None
    assert (user.name, user.officer_id) == ("ana", "lo-01")
    assert store.capacity("lo-01") == 25
    listed = runner.invoke(app, ["users", "list"])
    assert "ana" in listed.stdout
    assert token not in listed.stdout
    again = runner.invoke(app, ["users", "add", "ana", "--role", "crm"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert runner.invoke(app, ["users", "revoke", "ana"]).exit_code == 0
    assert store.authenticate(token) is None


def test_an_officer_user_needs_its_officer_id(home: Path) -> None:
    result = CliRunner().invoke(app, ["users", "add", "bob", "--role", "officer"])
    assert result.exit_code == 2
    assert "--officer" in result.output


def test_audit_reads_the_trail_by_lead(home: Path) -> None:
    from datetime import UTC, datetime

    from serving.audit import AuditLog, AuditRecord

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    create_serving_tables(log.engine)
    AuditLog(log.engine).write(
        [
            AuditRecord(
                at=datetime.now(UTC),
                request_id="r1",
                actor="ana",
                actor_role="officer",
                action="score",
                lead_id=lead,
                model_version="lead-scorer/1",
                probability=0.25,
                reasons=[{"text": "visited the site"}],
            )
            for lead in ("L01", "L02")
        ]
    )
    result = CliRunner().invoke(app, ["audit", "--lead", "L02", "--since", "1h", "--json"])
    assert result.exit_code == 0, result.output
    assert '"lead_id": "L02"' in result.stdout
    assert "L01" not in result.stdout


def test_demo_users_cover_every_officer_and_a_rerun_issues_new_tokens(home: Path) -> None:
    settings = Settings()
    first = create_demo_users(settings)
    assert set(first) == {"demo-admin", "demo-crm", "demo-manager", "demo-lo-01", "demo-lo-02"}
    store = _users(home)
    officer = store.authenticate(first["demo-lo-02"])
    assert officer is not None
    assert officer.officer_id == "lo-02"
    second = create_demo_users(settings)
    assert store.authenticate(first["demo-crm"]) is None
    assert store.authenticate(second["demo-crm"]) is not None


def test_since_takes_durations_and_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    assert parse_since("24h", now) == datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert parse_since("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=UTC)


def test_the_demo_ends_by_printing_the_url_and_tokens_and_can_stop_before_serving(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadscore.commands.service import demo_service

    tokens = demo_service(Settings(), serve=False)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8000" in printed
    assert tokens["demo-crm"] in printed
    assert "--no-serve" in CliRunner().invoke(app, ["demo", "--help"]).stdout
