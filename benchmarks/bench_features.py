"""Feature-build benchmark: events/s, snapshot rows/s and peak memory, default data and 1M+ events.

`python -m benchmarks.bench_features` simulates each history, loads it into a fresh event log,
then runs `leadscore features build`'s job (features.build.build_feature_store) in a separate
process so its peak memory is its own. Figures: benchmarks/results/features.json.
Loading goes straight into the event log (not through the contracts: that is ingestion, not
the feature build).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.report import peak_rss_mib, write

SIZES: dict[str, dict[str, Any]] = {
    "default": {"officers": 5, "months": 12, "leads_per_month": 200},
    "1M events": {"officers": 100, "months": 12, "leads_per_month": 10_000},
}
"""The default simulated CRM, and a lender big enough for at least 1,000,000 events."""

TARGET_SECONDS = 120.0
TARGET_PEAK_MIB = 4096.0


def prepare(size: str, home: Path) -> dict[str, Any]:
    """Simulate a history and load it into a fresh event log under home."""
    from features.event_log import EventLog
    from simulator import SimulationConfig, simulate

    config = SimulationConfig(
        **SIZES[size], seed=11, start=date(2025, 1, 1), record_daily_hazard=False
    )
    clock = time.perf_counter()
    world = simulate(config)
    simulate_s = time.perf_counter() - clock
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    clock = time.perf_counter()
    log.upsert_leads(world.leads)
    for start in range(0, len(world.events), 200_000):
        log.append_events(world.events.iloc[start : start + 200_000])
    log.put_market_rates(world.rates)
    return {
        "leads": len(world.leads),
        "events": len(world.events),
        "simulate_s": simulate_s,
        "load_s": time.perf_counter() - clock,
    }


def build(home: Path) -> dict[str, Any]:
    """The feature build job on the loaded event log."""
    from features.build import build_feature_store
    from features.event_log import EventLog
    from features.store import LeadFeatureStore

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    store = LeadFeatureStore(home / "feast")
    clock = time.perf_counter()
    report = build_feature_store(log, store, now=datetime(2026, 1, 1, tzinfo=UTC))
    total = time.perf_counter() - clock
    return {
        "build_s": total,
        "stages_s": report.seconds,
        "snapshot_rows": report.snapshot_rows,
        "online_rows": report.online_rows,
        "events_read": report.events,
        "peak_rss_mib": peak_rss_mib(),
        "contract_ok": report.validation.ok,
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_features", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step {args} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    figures: dict[str, Any] = {"targets": {"seconds": TARGET_SECONDS, "peak_mib": TARGET_PEAK_MIB}}
    rows = []
    base = Path(os.environ.get("LEADSCORE_BENCH_DIR", tempfile.gettempdir()))
    for size in SIZES:
        with tempfile.TemporaryDirectory(dir=base, prefix="leadscore-bench-") as tmp:
            data = _child("prepare", size, tmp)
            result = _child("build", tmp)
        result.update(data)
        result["events_per_s"] = data["events"] / result["build_s"]
        result["snapshot_rows_per_s"] = result["snapshot_rows"] / result["build_s"]
        figures[size] = result
        rows.append(
            [
                size,
                f"{data['leads']:,}",
                f"{data['events']:,}",
                f"{result['snapshot_rows']:,}",
                result["build_s"],
                f"{result['events_per_s']:,.0f}",
                f"{result['snapshot_rows_per_s']:,.0f}",
                f"{result['peak_rss_mib']:,.0f}",
                result["build_s"] < TARGET_SECONDS and result["peak_rss_mib"] < TARGET_PEAK_MIB,
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
            "snapshot rows",
            "build s",
            "events/s",
            "snapshot rows/s",
            "peak MiB",
            "< 2 min and < 4 GiB",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        print(json.dumps(prepare(sys.argv[2], Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "build":
        print(json.dumps(build(Path(sys.argv[2]))))
    else:
        main()
