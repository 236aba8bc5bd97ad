"""Feature jobs: the build (event log -> fold -> parquet rows -> Feast -> online), incremental by
default, and the online refresh after an API ingest.

The event log stays the source of truth: each lead's fold state as of the last build lives
there beside a watermark (the last folded event's seq), so a build folds only the events that
arrived since, and a refresh folds only a lead's events since the last build onto its state.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from data_contracts import FeatureColumnRule, ValidationReport, validate_feature_table
from features.definitions import FEATURES
from features.event_log import EventLog
from features.spark_engine import SparkFold
from features.store import LeadFeatureStore
from features.transforms import (
    EventColumns,
    FoldRows,
    LeadFold,
    LeadProfile,
    RowKey,
    event_columns,
    event_columns_from_records,
    fold_rows,
    lead_profiles,
    model_frame,
    profile_from_record,
    rows_as_of,
    stored_rows_frame,
    stored_rows_table,
)

LEADS_PER_PART = 20_000
"""A full build folds and writes this many leads at a time: memory is bounded by their events."""

VALIDATION_SAMPLE_ROWS = 100_000
"""The feature-table contract checks a seeded sample of at most this many stored rows..."""
VALIDATION_SHARE = 0.1
"""...drawn as this share of each part."""

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FeatureBuildReport:
    """What `leadscore features build` did, with its timings in seconds."""

    mode: str
    leads: int
    events: int
    folded_leads: int
    refolded_leads: int
    stored_rows: int
    online_rows: int
    validated_rows: int
    through_seq: int
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


def _states_of(
    log: EventLog, profiles: dict[str, LeadProfile], lead_ids: Sequence[str]
) -> dict[str, LeadFold]:
    stored = log.lead_feature_states(lead_ids)
    return {
        lead_id: LeadFold.from_json(profiles[lead_id], text)
        for lead_id, text in stored.items()
        if lead_id in profiles
    }


def advance(
    log: EventLog,
    lead_ids: Sequence[str],
    new_events: EventColumns,
    *,
    through_seq: int,
    refold: set[str] | None = None,
    last_row_only: bool = False,
) -> tuple[FoldRows, int]:
    """Fold these leads forward: from their stored state with only ``new_events`` (theirs, not
    yet folded), or from scratch over their whole history (up to through_seq) for leads in
    ``refold``, leads without a state, and leads with a new event older than their state's
    last (a late event). Returns the new rows and final states, and how many were refolded.
    Reads records, not frames: an API ingest refreshes a lead in milliseconds.
    """
    profiles = {str(r["lead_id"]): profile_from_record(r) for r in log.lead_records(list(lead_ids))}
    states = _states_of(log, profiles, list(profiles))
    again = set(refold or ()) | {i for i in profiles if i not in states}
    for lead_id, start, _stop in new_events.runs():
        state = states.get(lead_id)
        first = (new_events.t_s[start], new_events.event_id[start])
        if state is not None and first <= state.last_key:
            again.add(lead_id)
    again &= set(profiles)
    onward = [i for i in profiles if i not in again]
    result = fold_rows(
        profiles, new_events, states=states, lead_ids=onward, last_row_only=last_row_only
    )
    if again:
        history = event_columns_from_records(
            log.event_records(sorted(again), through_seq=through_seq)
        )
        redone = fold_rows(profiles, history, lead_ids=sorted(again), last_row_only=last_row_only)
        result.keys += redone.keys
        result.rows += redone.rows
        result.states.update(redone.states)
    return result, len(again)


def build_feature_store(
    log: EventLog,
    store: LeadFeatureStore,
    *,
    now: datetime | None = None,
    full: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    spark_fold: SparkFold | None = None,
) -> FeatureBuildReport:
    """Fold the event log into stored rows, write them to Feast offline and online.

    Incremental unless ``full`` or never built: only events that arrived since the last build
    (and leads the CRM changed) are folded, onto each touched lead's stored state. ``full``
    folds everything from scratch and replaces the offline store; both end in the same state.
    ``spark_fold`` (features.spark_engine.spark_full_fold) runs a full build's fold on Spark
    instead of in worker processes; the stores receive the same rows and states.
    """
    report_progress = progress or (lambda _step, _done, _total: None)
    now = now or datetime.now(UTC)
    seconds: dict[str, float] = {}
    watermark = log.feature_watermark()
    full = full or watermark is None or not store.row_files()
    through_seq = log.last_event_seq()  # events arriving during the build wait for the next
    rates = log.market_rates()

    clock = time.perf_counter()
    report_progress("Feast apply", 0, 1)
    store.write_rates(rates)
    if full or not store.is_applied():
        store.apply()  # registered before the fold, which writes each part's leads online
    store.push_rate(rates, now)
    seconds["apply"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if full or watermark is None:
        outcome = _full_build(log, store, through_seq, report_progress, workers, spark_fold)
    else:
        outcome = _incremental_build(log, store, watermark, through_seq, report_progress)
    seconds["fold_and_write"] = time.perf_counter() - clock - outcome.online_s

    clock = time.perf_counter()
    report_progress("validate", 1, 1)
    sample = outcome.sample
    if len(sample) > VALIDATION_SAMPLE_ROWS:
        sample = sample.sample(VALIDATION_SAMPLE_ROWS, random_state=0)
    # The feature-table contract (Great Expectations, seconds to start) checks full builds;
    # an incremental build's rows come from the same fold code a full build checks.
    if full:
        report = validate_feature_table(
            _features_at_change(sample, rates).reset_index(drop=True),
            feature_rules(),
            source="feature table",
        )
    else:
        sample = sample.iloc[:0]
        report = ValidationReport("features", "feature table", 0, 0, 0)
    seconds["validate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report_progress("online store", 1, 1)
    online_rows = outcome.online_rows
    seconds["online"] = time.perf_counter() - clock + outcome.online_s

    clock = time.perf_counter()
    log.save_feature_build(outcome.states, through_seq=through_seq, built_at=now, replace=full)
    seconds["save_state"] = time.perf_counter() - clock
    return FeatureBuildReport(
        mode="full" if full else "incremental",
        leads=outcome.leads,
        events=outcome.events,
        folded_leads=len(outcome.states),
        refolded_leads=outcome.refolded,
        stored_rows=outcome.rows,
        online_rows=online_rows,
        validated_rows=len(sample),
        through_seq=through_seq,
        validation=report,
        seconds=seconds,
    )


@dataclass
class _Outcome:
    leads: int = 0
    events: int = 0
    rows: int = 0
    online_rows: int = 0
    online_s: float = 0.0
    refolded: int = 0
    states: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)


def _sample(rows: pd.DataFrame, share: float) -> pd.DataFrame:
    keep = min(len(rows), max(1_000, int(len(rows) * share)))
    return rows.sample(keep, random_state=0) if keep < len(rows) else rows


@dataclass
class _Part:
    """One range of leads folded: what the full build writes and keeps of it."""

    leads: int
    events: int
    states: dict[str, tuple[str, datetime]]
    online_keys: list[RowKey]
    online_rows: list[tuple[Any, ...]]
    sample: pd.DataFrame
    table: pa.Table


def _fold_part(url: str, lead_range: tuple[str, str], through_seq: int, seed: int) -> _Part:
    """Fold one range of leads from the event log (run in a worker process on big logs)."""
    log = EventLog(url)
    leads = log.leads(lead_range=lead_range)
    events = log.events(lead_range=lead_range, through_seq=through_seq)
    folded = fold_rows(lead_profiles(leads), event_columns(events))
    updated = dict(zip(leads["lead_id"].astype(str), leads["updated_at"], strict=True))
    newest = _newest_positions(folded.keys)
    picked = np.flatnonzero(np.random.default_rng(seed).random(len(folded.keys)) < VALIDATION_SHARE)
    return _Part(
        leads=len(leads),
        events=len(events),
        states={k: (v.to_json(), updated[k]) for k, v in folded.states.items()},
        online_keys=[folded.keys[i] for i in newest],
        online_rows=[folded.rows[i] for i in newest],
        sample=stored_rows_frame(
            [folded.keys[i] for i in picked], [folded.rows[i] for i in picked]
        ),
        table=stored_rows_table(folded.keys, folded.rows),
    )


def fold_workers(parts: int, requested: int | None = None) -> int:
    """Processes a full build folds in: as requested, else one a core; never more than the
    parts, so a single part (a small log) folds in-process, faster than a worker starts."""
    return max(1, min(parts, requested or os.cpu_count() or 1))


def _folded_parts(
    log: EventLog, ranges: list[tuple[str, str]], through_seq: int, requested: int | None
) -> Iterator[_Part]:
    """Each range folded, in order; with several workers, at most two parts a worker are in
    flight, so memory holds a few parts whatever the history."""
    workers = fold_workers(len(ranges), requested)
    if workers <= 1:
        for index, lead_range in enumerate(ranges):
            yield _fold_part(log.url, lead_range, through_seq, index)
        return
    context = multiprocessing.get_context("spawn")  # no forked copy of open connections
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future[_Part]] = deque()
        for index, lead_range in enumerate(ranges):
            pending.append(pool.submit(_fold_part, log.url, lead_range, through_seq, index))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _spark_parts(fold: SparkFold, log: EventLog, through_seq: int) -> Iterator[_Part]:
    """The Spark fold's output files as parts, each with its validation sample drawn here."""
    for index, part in enumerate(fold(log, through_seq)):
        rng = np.random.default_rng(index)
        picked = np.flatnonzero(rng.random(part.table.num_rows) < VALIDATION_SHARE)
        sample = part.table.take(pa.array(picked, pa.int64())).to_pandas()
        for name in ("lead_id", "officer_id"):
            sample[name] = sample[name].astype("string")
        yield _Part(
            leads=part.leads,
            events=part.events,
            states=dict(part.states),
            online_keys=part.online_keys,
            online_rows=part.online_rows,
            sample=sample,
            table=part.table,
        )


def _full_build(
    log: EventLog,
    store: LeadFeatureStore,
    through_seq: int,
    report: Progress,
    workers: int | None,
    spark_fold: SparkFold | None = None,
) -> _Outcome:
    outcome = _Outcome()
    samples: list[pd.DataFrame] = []
    if spark_fold is not None:
        report("fold on Spark", 0, 1)
        parts = _spark_parts(spark_fold, log, through_seq)
        total = 0
    else:
        ranges = log.lead_id_ranges(LEADS_PER_PART)
        parts = _folded_parts(log, ranges, through_seq, workers)
        total = len(ranges)

    def tables() -> Iterator[pa.Table]:
        # Folded a range of leads at a time (in worker processes on a big log, or by Spark)
        # while this process writes the previous parts online and to parquet.
        for index, part in enumerate(parts):
            if total:
                report(f"fold leads {index + 1}/{total}", index, total)
            else:
                report(f"write Spark part {index + 1}", index, index + 1)
            outcome.leads += part.leads
            outcome.events += part.events
            outcome.states.update(part.states)
            clock = time.perf_counter()
            outcome.online_rows += store.write_online(part.online_keys, part.online_rows)
            outcome.online_s += time.perf_counter() - clock
            samples.append(part.sample)
            yield part.table

    outcome.rows = store.write_rows(tables(), replace=True)
    outcome.sample = pd.concat(samples, ignore_index=True) if samples else pd.DataFrame()
    return outcome


def _newest_positions(keys: Sequence[RowKey]) -> list[int]:
    """Positions of each lead's newest row (rows come ordered by lead, then changed_at)."""
    return [i for i in range(len(keys)) if i + 1 == len(keys) or keys[i + 1][0] != keys[i][0]]


def _incremental_build(
    log: EventLog,
    store: LeadFeatureStore,
    watermark: tuple[int, datetime],
    through_seq: int,
    report: Progress,
) -> _Outcome:
    after_seq, _ = watermark
    report("fold new events", 0, 1)
    new_events = log.events(after_seq=after_seq, through_seq=through_seq)
    changed = set(log.leads_changed_since_fold())
    touched = sorted(set(new_events["lead_id"].astype(str)) | changed)
    outcome = _Outcome(leads=len(touched), events=len(new_events))
    if not touched:
        return outcome
    folded, refolded = advance(
        log, touched, event_columns(new_events), through_seq=through_seq, refold=changed
    )
    rows = stored_rows_frame(folded.keys, folded.rows)
    updated = log.leads(lead_ids=touched).set_index("lead_id")["updated_at"]
    outcome.refolded = refolded
    outcome.states = {k: (v.to_json(), updated[k]) for k, v in folded.states.items()}
    outcome.rows = store.write_rows([rows], replace=False)
    newest = _newest_positions(folded.keys)
    clock = time.perf_counter()
    outcome.online_rows = store.write_online(
        [folded.keys[i] for i in newest], [folded.rows[i] for i in newest]
    )
    outcome.online_s = time.perf_counter() - clock
    outcome.sample = rows
    return outcome


def _features_at_change(rows: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Model inputs of stored rows at the moment each was written (the feature-table check)."""
    if rows.empty:
        from features.transforms import empty_rows

        rows = empty_rows()
    entities = pd.DataFrame(
        {"lead_id": rows["lead_id"].astype(str).to_numpy(), "as_of": rows["changed_at"]}
    )
    joined = rows_as_of(rows, entities, rates)
    return model_frame(joined)


def refresh_online_features(
    log: EventLog, store: LeadFeatureStore, lead_ids: Sequence[str], *, now: datetime
) -> int:
    """Fold these leads' events since the last build onto their stored state and push each
    lead's newest row online (open or not: the row says is_open).

    Serving calls this for every lead an accepted event touched, before it answers. The cost is
    the leads' new events, not their history (a late event older than a lead's state refolds
    that lead). Nothing is written to the event log: the next build folds the same events.
    """
    del now  # the newest row is exact at any later instant
    if not lead_ids:
        return 0
    ids = sorted(set(lead_ids))
    watermark = log.feature_watermark()
    after = watermark[0] if watermark else 0
    records = log.event_records(ids, after_seq=after)
    through = max([after, *(int(r["seq"]) for r in records)])
    folded, _ = advance(
        log, ids, event_columns_from_records(records), through_seq=through, last_row_only=True
    )
    return store.write_online(folded.keys, folded.rows)
