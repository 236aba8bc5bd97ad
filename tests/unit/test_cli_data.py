"""The data commands end to end on a tiny simulated CRM: simulate, ingest, validate, bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.event_log import EventLog
from leadscore.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    result = runner.invoke(
        app,
        [
            "simulate",
            "--officers", "1",
            "--months", "2",
            "--leads-per-month", "25",
            "--seed", "3",
            "--start", "2025-01-01",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return tmp_path / "home"


def _log(home: Path) -> EventLog:
    return EventLog(f"sqlite:///{home / 'leadscore.db'}")


def test_simulate_ingest_validate_pass(home: Path) -> None:
    ingested = runner.invoke(app, ["ingest"])
    assert ingested.exit_code == 0, ingested.output
    counts = _log(home).counts()
    with (home / "sim" / "events.csv").open() as handle:
        assert counts["events"] == sum(1 for _ in handle) - 1
    assert counts["leads"] == 50
    assert counts["quarantine"] == 0
    validated = runner.invoke(app, ["validate"])
    assert validated.exit_code == 0, validated.output


def test_ingesting_twice_reports_duplicates_and_keeps_counts(home: Path) -> None:
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    before = _log(home).counts()
    again = runner.invoke(app, ["ingest"])
    assert again.exit_code == 0, again.output
    assert _log(home).counts() == before
    assert "duplicates" in again.output


def test_corrupted_file_is_reported_rule_by_rule_and_good_rows_kept(home: Path) -> None:
    source = home / "sim" / "leads.csv"
    rows = list(csv.DictReader(source.open()))
    rows[0]["state"] = "ZZ"
    rows[1]["loan_amount_usd"] = "lots"
    rows[2]["phone"] = "555-0100"
    bad = home / "corrupt_leads.csv"
    with bad.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    validated = runner.invoke(app, ["validate", str(bad)])
    assert validated.exit_code == 1
    for rule_column in ("state", "loan_amount_usd", "phone"):
        assert rule_column in validated.output
    assert "555-0100" not in validated.output  # personal data stays out of reports

    ingested = runner.invoke(app, ["ingest", str(bad)])
    assert ingested.exit_code == 0, ingested.output
    log = _log(home)
    assert log.counts()["leads"] == len(rows) - 3
    quarantined = log.quarantined(kind="leads")
    assert sorted(quarantined["row_number"]) == [2, 3, 4]  # file lines (header is line 1)
    assert quarantined["reasons"].str.len().gt(0).all()


def test_file_with_nothing_usable_exits_non_zero(home: Path) -> None:
    bad = home / "events_missing_column.csv"
    bad.write_text("event_id,lead_id,event_type\nE1,L1,web_visit\n")
    result = runner.invoke(app, ["ingest", str(bad)])
    assert result.exit_code != 0
    assert "occurred_at" in result.output


def test_every_command_has_help() -> None:
    for command in (["simulate"], ["ingest"], ["validate"], ["features", "build"], ["demo"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output
