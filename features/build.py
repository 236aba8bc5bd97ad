"""Feature jobs: the batch build (snapshots -> parquet -> Feast -> online) and the online update."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from data_contracts import FeatureColumnRule, ValidationReport, validate_feature_table
from features.definitions import FEATURES
from features.event_log import EventLog
from features.store import LeadFeatureStore, empty_snapshots
from features.transforms import build_snapshots, model_frame

VALIDATION_SAMPLE_ROWS = 100_000
"""The feature-table contract checks a seeded sample of at most this many snapshot rows."""

VALIDATION_SHARE = 0.05
"""Share of each month's snapshots kept for the contract check: at least 1,000 rows, at most
an even share of VALIDATION_SAMPLE_ROWS (so the sample never grows with the history)."""


def month_windows(
    leads: pd.DataFrame, events: pd.DataFrame, now: datetime
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Inclusive [start, end] day ranges, one a calendar month, from the first lead to the last
    event (never past now): the batch build's as-of days."""
    if leads.empty:
        return []
    first = pd.Timestamp(leads["created_at"].min()).floor("D")
    last = pd.Timestamp(events["occurred_at"].max() if len(events) else first)
    last = min(last, pd.Timestamp(now)).floor("D")
    windows = []
    start = first
    while start <= last:
        next_month = (start + pd.offsets.MonthBegin(1)).floor("D")
        windows.append((start, min(next_month - pd.Timedelta(days=1), last)))
        start = next_month
    return windows


@dataclass(frozen=True)
class FeatureBuildReport:
    """What `leadscore features build` did, with its timings in seconds."""

    leads: int
    events: int
    snapshot_rows: int
    online_rows: int
    validated_rows: int
    validation: ValidationReport
    seconds: dict[str, float] = field(default_factory=dict)


def feature_rules() -> tuple[FeatureColumnRule, ...]:
    """The feature-table contract, from the one feature list."""
    return tuple(
        FeatureColumnRule.inferred(
            spec.name, spec.kind, nullable=spec.nullable, categories=spec.categories
        )
        for spec in FEATURES
    )


def build_feature_store(
    log: EventLog,
    store: LeadFeatureStore,
    *,
    now: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> FeatureBuildReport:
    """Daily snapshots of every open lead over the history, into Feast offline and online.

    Idempotent: the parquet is replaced, definitions re-applied, the online store overwritten.
    Snapshots run to the last event's day (never past now); the online store then gets every
    open lead as of now, so serving starts from the present, not last midnight.
    progress(step, done, total) is told of each month built and each later step.
    """
    report_progress = progress or (lambda _step, _done, _total: None)
    now = now or datetime.now(UTC)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    leads, events, rates = log.leads(), log.events(until=now), log.market_rates()
    seconds["read_event_log"] = time.perf_counter() - clock

    clock = time.perf_counter()
    samples: list[pd.DataFrame] = []

    windows = month_windows(leads, events, now)
    per_month = max(1_000, VALIDATION_SAMPLE_ROWS // max(1, len(windows)))

    def monthly_parts() -> Iterator[pd.DataFrame]:
        # One month at a time keeps memory to a month of snapshots, whatever the history.
        for index, (start, end) in enumerate(windows):
            report_progress(f"snapshots {start:%Y-%m}", index, len(windows))
            part = build_snapshots(leads, events, rates, start=start, end=end)
            if part.empty:
                continue
            keep = min(len(part), max(1_000, int(len(part) * VALIDATION_SHARE)), per_month)
            samples.append(part.sample(keep, random_state=0))
            yield part
            del part  # before the next month is built: one month in memory at a time

    snapshot_rows = store.write_snapshots(monthly_parts())
    report_progress("validate", len(windows), len(windows))
    seconds["snapshots_and_parquet"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sample = pd.concat(samples, ignore_index=True) if samples else empty_snapshots()
    if len(sample) > VALIDATION_SAMPLE_ROWS:
        sample = sample.sample(VALIDATION_SAMPLE_ROWS, random_state=0)
    report = validate_feature_table(
        model_frame(sample).reset_index(drop=True), feature_rules(), source="feature table"
    )
    seconds["validate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report_progress("Feast apply", len(windows), len(windows))
    store.apply()
    seconds["apply"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # The online store gets every open lead as of now through Feast's push (its
    # write_to_online_store). A `materialize` of the last midnight snapshot would write the same
    # leads with staler values only to be overwritten: one write, not two (docs/ARCHITECTURE.md).
    report_progress("online store", len(windows), len(windows))
    current = build_snapshots(leads, events, rates, as_of_times=pd.DatetimeIndex([now]))
    online_rows = store.push(current)
    seconds["online"] = time.perf_counter() - clock

    return FeatureBuildReport(
        leads=len(leads),
        events=len(events),
        snapshot_rows=snapshot_rows,
        online_rows=online_rows,
        validated_rows=len(sample),
        validation=report,
        seconds=seconds,
    )


def refresh_online_features(
    log: EventLog, store: LeadFeatureStore, lead_ids: Sequence[str], *, now: datetime
) -> int:
    """Recompute these leads as of now with the batch transforms and push them online.

    Serving calls this for every lead an accepted event touched, before it answers.
    Returns how many leads were pushed (closed leads, applied or opted out everywhere, are not).
    """
    if not lead_ids:
        return 0
    ids = sorted(set(lead_ids))
    leads = log.leads(lead_ids=ids)
    events = log.events(lead_ids=ids, until=now)
    stored = build_snapshots(leads, events, log.market_rates(), as_of_times=pd.DatetimeIndex([now]))
    return store.push(stored)
