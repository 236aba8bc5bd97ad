"""Ingestion: raw leads, events and market rates through the data contracts into the event log.

One path for the CLI (files) and the API (records): read, validate, then store the valid rows
and quarantine the rest in one transaction. Good rows are never lost because of bad ones.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from data_contracts import ContractError, RawTable, ValidationReport, read_table, validate
from data_contracts.models import RATE_RANGE_PCT
from data_contracts.schemas import EVENT_REQUIRED, LEAD_REQUIRED, MARKET_RATE_COLUMNS
from features.event_log import EventLog

TableKind = Literal["leads", "events", "rates"]

SIMULATOR_FILES: tuple[tuple[str, TableKind], ...] = (
    ("leads.csv", "leads"),
    ("events.csv", "events"),
    ("rates.csv", "rates"),
)
"""What `leadscore simulate` writes, in the order it must be ingested (events need leads)."""


@dataclass(frozen=True)
class IngestResult:
    """One table's ingestion: the contract report and what the event log did with each row."""

    kind: TableKind
    source: str
    report: ValidationReport | None
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Something came in (stored or recognized as already stored)."""
        return bool(self.stored or self.duplicates)


def ingest_table(
    log: EventLog,
    table: pd.DataFrame | RawTable,
    kind: Literal["leads", "events"],
    *,
    now: datetime,
    source: str = "<records>",
) -> IngestResult:
    """Validate a leads or events table and store it: valid rows in, failing rows quarantined."""
    lead_created_at = None
    if kind == "events":
        frame = table.frame if isinstance(table, RawTable) else table
        ids = frame["lead_id"].dropna().astype(str).unique().tolist() if "lead_id" in frame else []
        lead_created_at = log.lead_created_at(ids)
    result = validate(table, kind, now=now, lead_created_at=lead_created_at, source=source)
    valid = result.valid.reset_index(drop=True)
    batch = log.write_batch(kind, valid, result.quarantined, now=now)
    return IngestResult(
        kind=kind,
        source=result.report.source,
        report=result.report,
        stored=batch.stored,
        duplicates=batch.duplicates,
        quarantined=batch.quarantined,
        rows=result.report.n_rows,
    )


def ingest_rates(log: EventLog, frame: pd.DataFrame, *, source: str) -> IngestResult:
    """Daily market rates: a date (YYYY-MM-DD) and a rate in percent; bad rows are reported."""
    missing = [c for c in MARKET_RATE_COLUMNS if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{source}: rates column(s) {missing} missing; expected {list(MARKET_RATE_COLUMNS)}"
        )
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    rates = pd.to_numeric(frame["rate_30y_pct"], errors="coerce")
    low, high = RATE_RANGE_PCT
    bad = dates.isna() | rates.isna() | (rates < low) | (rates > high)
    problems = [
        f"{source} row {i + 2}: expected date YYYY-MM-DD and rate_30y_pct in [{low}, {high}], "
        f"got {frame.loc[i, 'date']!r}, {frame.loc[i, 'rate_30y_pct']!r}"
        for i in frame.index[bad]
    ]
    good = pd.DataFrame(
        {"date": dates[~bad].dt.strftime("%Y-%m-%d"), "rate_30y_pct": rates[~bad].astype(float)}
    )
    stored = log.put_market_rates(good)
    return IngestResult(
        kind="rates",
        source=source,
        report=None,
        stored=good["date"].tolist()[:stored],
        duplicates=good["date"].tolist()[stored:],
        rows=len(frame),
        problems=problems,
    )


def detect_kind(path: Path) -> TableKind:
    """Tell leads, events and rates files apart by their columns."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = set(next(csv.reader(handle), []))
    else:
        first = pd.read_json(path, lines=True, nrows=1)
        header = set(first.columns)
    if "event_id" in header:
        return "events"
    if set(MARKET_RATE_COLUMNS) <= header:
        return "rates"
    if "lead_id" in header and "created_at" in header:
        return "leads"
    raise ContractError(
        f"{path}: cannot tell what this file holds from its columns; a leads file has "
        f"{', '.join(LEAD_REQUIRED)}; an events file has {', '.join(EVENT_REQUIRED)}; "
        f"a rates file has {', '.join(MARKET_RATE_COLUMNS)}"
    )


def ingest_file(log: EventLog, path: Path, *, now: datetime) -> IngestResult:
    """Ingest one CSV or JSON Lines file of leads, events or rates."""
    kind = detect_kind(path)
    if kind == "rates":
        frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_json(path)
        return ingest_rates(log, frame, source=str(path))
    return ingest_table(log, read_table(path, kind), kind, now=now, source=str(path))


def ingest_files(
    log: EventLog,
    paths: Sequence[Path],
    *,
    now: datetime,
    progress: Callable[[Path, int, int], None] | None = None,
) -> list[IngestResult]:
    """Ingest files with leads before events (an event needs its lead), rates anywhere.

    progress(path, done, total) is told before each file.
    """
    order = {"leads": 0, "rates": 1, "events": 2}
    kinds = {path: detect_kind(path) for path in paths}
    ordered = sorted(paths, key=lambda p: order[kinds[p]])
    results = []
    for index, path in enumerate(ordered):
        if progress is not None:
            progress(path, index, len(ordered))
        results.append(ingest_file(log, path, now=now))
    return results
