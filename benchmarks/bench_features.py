"""Feature-build benchmark: full builds at 1x, 3x and 10x a 1M-event history, and an incremental
build of one day of new events.

`python -m benchmarks.bench_features` simulates the default history and a lender with about
1,000,000 events (120k leads); the 3x and 10x histories are that lender copied with new lead and
event ids (the same shape, three and ten times the leads). Each history is loaded into a fresh
event log, then `leadscore features build`'s job (features.build.build_feature_store) runs in a
separate process so its peak memory is its own. After the 1M full build, one more simulated day
of events (about 3k) arrives and an incremental build folds it. Figures:
benchmarks/results/features.json. Loading goes straight into the event log (not through the
contracts: that is ingestion, not the feature build).

`--skip-10x` leaves out the 10M history (about 20 minutes on 2 cores, most of it loading the
event log). Full builds fold in worker processes (one a core) when a history has more than one
range of leads; `worker_peak_rss_mib` is the largest worker's peak memory.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.report import child_step, peak_child_rss_mib, peak_rss_mib, write

SIZES: dict[str, dict[str, Any]] = {
    "default": {"base": "default", "copies": 1},
    "1M events": {"base": "lender", "copies": 1},
    "3M events": {"base": "lender", "copies": 3},
    "10M events": {"base": "lender", "copies": 10},
}
WORLDS: dict[str, dict[str, Any]] = {
    "default": {"officers": 5, "months": 12, "leads_per_month": 200},
    "lender": {"officers": 100, "months": 12, "leads_per_month": 10_000},
    "tiny": {"officers": 2, "months": 3, "leads_per_month": 100},
}
"""The default simulated CRM, a lender big enough for about 1,000,000 events, and a tiny CRM
(bench_spark's smoke run)."""

TARGETS = {
    "full_1m_s": 60.0,
    "full_1m_peak_mib": 2048.0,
    "rows_per_event": 2.0,
    "incremental_day_s": 5.0,
    "full_10m_peak_mib": 8192.0,
}
BUILD_NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY_AFTER = datetime(2026, 1, 2, tzinfo=UTC)
LOAD_CHUNK = 250_000


def _world(base: str) -> Any:
    from simulator import SimulationConfig, simulate

    config = SimulationConfig(
        **WORLDS[base], seed=11, start=date(2025, 1, 1), record_daily_hazard=False
    )
    return simulate(config)


def _copy(frame: pd.DataFrame, copy: int, columns: tuple[str, ...]) -> pd.DataFrame:
    if copy == 0:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype(str) + f"~{copy}"
    return out


def prepare(size: str, home: Path, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate (and copy) a history and load it into a fresh event log under home; the events
    of its last simulated day are held back in home/next_day.parquet for the incremental run.
    ``spec``: the history's base world and copies (default: SIZES[size])."""
    from features.event_log import EventLog

    spec = spec or SIZES[size]
    clock = time.perf_counter()
    world = _world(spec["base"])
    simulate_s = time.perf_counter() - clock
    cut = pd.Timestamp(world.events["occurred_at"].max()).floor("D")
    held = world.events["occurred_at"] >= cut
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    clock = time.perf_counter()
    events = 0
    for copy in range(spec["copies"]):
        log.upsert_leads(_copy(world.leads, copy, ("lead_id",)))
        kept = _copy(world.events.loc[~held], copy, ("lead_id", "event_id"))
        for start in range(0, len(kept), LOAD_CHUNK):
            log.append_events(kept.iloc[start : start + LOAD_CHUNK])
        events += len(kept)
    log.put_market_rates(world.rates)
    world.events.loc[held].to_parquet(home / "next_day.parquet")
    return {
        "leads": len(world.leads) * spec["copies"],
        "events": events,
        "next_day_events": int(held.sum()),
        "simulate_s": simulate_s,
        "load_s": time.perf_counter() - clock,
    }


def build(home: Path, mode: str) -> dict[str, Any]:
    """The feature build job on the loaded event log: 'full', or 'incremental' after the held
    back day of events arrives."""
    from features.build import build_feature_store
    from features.event_log import EventLog
    from features.store import LeadFeatureStore

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    store = LeadFeatureStore(home / "feast")
    now = BUILD_NOW
    if mode == "incremental":
        log.append_events(pd.read_parquet(home / "next_day.parquet"))
        now = DAY_AFTER
        store.store.list_feature_views()  # Feast's import and registry load: not the build's work
    clock = time.perf_counter()
    report = build_feature_store(log, store, now=now, full=mode == "full")
    total = time.perf_counter() - clock
    return {
        "build_s": total,
        "stages_s": report.seconds,
        "mode": report.mode,
        "stored_rows": report.stored_rows,
        "online_rows": report.online_rows,
        "events_folded": report.events,
        "leads_touched": report.leads,
        "refolded_leads": report.refolded_leads,
        "peak_rss_mib": peak_rss_mib(),
        "worker_peak_rss_mib": peak_child_rss_mib(),
        "contract_ok": report.validation.ok,
    }


def _child(*args: str) -> dict[str, Any]:
    return child_step("benchmarks.bench_features", *args)


def main(skip_10x: bool) -> None:
    figures: dict[str, Any] = {"targets": TARGETS}
    rows = []
    base = Path(os.environ.get("LEADSCORE_BENCH_DIR", tempfile.gettempdir()))
    for size in SIZES:
        if skip_10x and size == "10M events":
            continue
        with tempfile.TemporaryDirectory(dir=base, prefix="leadscore-bench-") as tmp:
            data = _child("prepare", size, tmp)
            load_before = os.getloadavg()[0]
            result = _child("build", tmp, "full")
            # Other work on the machine slows a build: the 1-minute load around it says how much.
            result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            if size in {"default", "1M events"}:
                result["incremental_day"] = _child("build", tmp, "incremental")
        result.update(data)
        result["s_per_1m_events"] = result["build_s"] / data["events"] * 1e6
        result["rows_per_event"] = result["stored_rows"] / data["events"]
        figures[size] = result
        rows.append(
            [
                f"{size}: full",
                f"{data['leads']:,}",
                f"{data['events']:,}",
                f"{result['stored_rows']:,}",
                f"{result['rows_per_event']:.2f}",
                result["build_s"],
                f"{result['s_per_1m_events']:.1f}",
                f"{result['peak_rss_mib']:,.0f}",
                f"{result['worker_peak_rss_mib']:,.0f}",
            ]
        )
        incremental = result.get("incremental_day")
        if incremental:
            rows.append(
                [
                    f"{size}: + 1 day, incremental",
                    f"{incremental['leads_touched']:,} touched",
                    f"{incremental['events_folded']:,}",
                    f"{incremental['stored_rows']:,}",
                    "",
                    incremental["build_s"],
                    "",
                    f"{incremental['peak_rss_mib']:,.0f}",
                    "",
                ]
            )
        print(f"{size}: stages {result['stages_s']}", flush=True)
    write(
        "features",
        figures,
        rows,
        [
            "history",
            "leads",
            "events",
            "stored rows",
            "rows/event",
            "build s",
            "s per 1M events",
            "peak MiB",
            "worker peak MiB",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        print(json.dumps(prepare(sys.argv[2], Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "build":
        print(json.dumps(build(Path(sys.argv[2]), sys.argv[3])))
    else:
        main(skip_10x="--skip-10x" in sys.argv[1:])
