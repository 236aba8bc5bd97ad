"""PII canaries (issue 14, item 2.15, the commands' part): leads whose names, phones, emails and
free text carry markers unique to this run go through the `leadscore` commands a data scientist
runs (validate, ingest, features build, train, models, audit, monitor) and through the
bring-your-own-export path (train --csv, score --csv) with the markers in the export's name,
email and phone columns. None of the markers appears in any command's output, in the command
log, or anywhere in the data home outside the event log (which must keep the leads' contact
details) and the input files: not in the Feast repository, the parquet snapshots, the MLflow
store or any MLflow artifact (model, model page, plots, reports)."""

from __future__ import annotations

import csv
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app

pytestmark = pytest.mark.slow

SIMULATION = ["--officers", "1", "--months", "6", "--leads-per-month", "150", "--seed", "5"]
MARKED_LEADS = 25


@dataclass
class Run:
    home: Path
    markers: list[str]
    outputs: dict[str, str]
    kept: set[Path]
    """Files allowed to hold the markers: the event log and the inputs."""


def _mark_simulated_leads(sim: Path, tag: str) -> list[str]:
    """Put markers in the first leads' names, phones and emails and in a statement's text."""
    with (sim / "leads.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    markers = []
    for i, row in enumerate(rows[:MARKED_LEADS]):
        row["first_name"] = f"Canaryfirst{tag}x{i}"
        row["last_name"] = f"Canarylast{tag}x{i}"
        row["email"] = f"canary.{tag}.{i}@example.com"
        row["phone"] = f"+1415{tag_digits(tag)}{i:02d}"
        markers += [row["first_name"], row["last_name"], row["email"], row["phone"]]
    _write(sim / "leads.csv", rows)
    with (sim / "events.csv").open(newline="") as handle:
        events = list(csv.DictReader(handle))
    marked = {row["lead_id"] for row in rows[:MARKED_LEADS]}
    text = f"canarytext{tag} our lease ends in August"
    for row in events:
        if row["lead_id"] in marked and row["event_type"] == "statement":
            row["text"] = text
    markers.append(f"canarytext{tag}")
    _write(sim / "events.csv", events)
    return markers


def tag_digits(tag: str) -> str:
    return f"{int(tag, 16) % 100_000:05d}"


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _export(path: Path, tag: str, rows: int = 400) -> list[str]:
    """A CRM export with spaced headers whose contact columns carry markers on every row."""
    rng = random.Random(5)  # the same export every run; only the markers are new
    markers = []
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Lead Number", "Full Name", "Email Address", "Mobile Phone", "Lead Source",
             "Total Time Spent on Website", "Page Views Per Visit", "Converted"]
        )  # fmt: skip
        for i in range(rows):
            visits = rng.randint(0, 40)
            name = f"Canaryname{tag}y{i}"
            email = f"canary.export.{tag}.{i}@example.net"
            phone = f"+1646{tag_digits(tag)}{i % 100:02d}"
            markers += [name, email]
            converted = "Yes" if rng.random() < 0.1 + visits / 60 else "No"
            source = rng.choice(["Google", "Referral", "Direct Traffic"])
            writer.writerow(
                [f"N{i:05d}", name, email, phone, source, visits * 37, visits % 7, converted]
            )
    return markers


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = tmp_path_factory.mktemp("pii-cli")
    tag = secrets.token_hex(4)
    runner = CliRunner()
    env = {"LEADSCORE_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    outputs: dict[str, str] = {}

    def leadscore(*args: str, ok: tuple[int, ...] = (0,)) -> None:
        result = runner.invoke(app, list(args), env=env)
        outputs[" ".join(args)] = result.output
        assert result.exit_code in ok, f"leadscore {' '.join(args)}: {result.output}"

    leadscore("simulate", *SIMULATION)
    sim = home / "sim"
    markers = _mark_simulated_leads(sim, tag)
    export = home / "crm-export.csv"
    markers += _export(export, tag)
    leadscore("validate", str(sim / "leads.csv"), str(sim / "events.csv"))
    leadscore("ingest")
    leadscore("features", "build")
    leadscore("train", ok=(0, 2))
    leadscore("models")
    leadscore("audit", "--limit", "5")
    leadscore("monitor", "--out", str(home / "monitor"), ok=(0, 1))
    leadscore(
        "train", "--csv", str(export), "--target", "Converted", "--id", "Lead Number",
        "--model-name", "crm-export",
    )  # fmt: skip
    leadscore(
        "score", "--csv", str(export), "--out", str(home / "scores.csv"),
        "--model-name", "crm-export", "--alias", "latest",
    )  # fmt: skip
    kept = {home / "leadscore.db", home / "leadscore.db-wal", home / "leadscore.db-shm", export}
    kept |= set(sim.iterdir())
    return Run(home, markers, outputs, kept)


def _leaks(markers: list[str], data: bytes) -> list[str]:
    return [m for m in markers if m.encode() in data]


def test_no_command_prints_a_marker(run: Run) -> None:
    for command, output in run.outputs.items():
        assert _leaks(run.markers, output.encode()) == [], f"`leadscore {command}` printed PII"


def test_the_export_is_scored_without_its_contact_columns(run: Run) -> None:
    with (run.home / "scores.csv").open(newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert [row["id"] for row in scored[:3]] == ["N00000", "N00001", "N00002"]
    assert not {"Full Name", "Email Address", "Mobile Phone"} & set(scored[0])


def test_no_file_in_the_data_home_but_the_event_log_and_inputs_holds_a_marker(run: Run) -> None:
    checked, leaks = 0, []
    for path in sorted(run.home.rglob("*")):
        if not path.is_file() or path in run.kept:
            continue
        checked += 1
        found = _leaks(run.markers, path.read_bytes())
        if found:
            leaks.append(f"{path.relative_to(run.home)}: {found[:3]}")
    mlflow_files = [p for p in run.home.rglob("*") if "mlruns" in p.parts or p.name == "mlflow.db"]
    assert mlflow_files, "the MLflow store was not where this test looks"
    assert (run.home / "logs").is_dir(), "the command log was not where this test looks"
    assert checked > 20
    assert leaks == []


def test_the_event_log_does_keep_the_contact_details(run: Run) -> None:
    """The scan above would pass vacuously if the markers never reached the product at all."""
    log = b"".join(p.read_bytes() for p in run.home.glob("leadscore.db*"))
    assert _leaks(run.markers[:4], log) == run.markers[:4]
