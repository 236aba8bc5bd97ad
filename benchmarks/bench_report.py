"""Team-report benchmark: the work of `leadscore report` (and of /team and GET /v1/analytics) on
the default history and on a lender with about 1,000,000 events, for the 90 and the 365 days
ending with the history's last day.

Each history is loaded by bench_features.prepare (straight into a fresh event log). Each window
is timed three times in this process, stage by stage: reading the window's events, computing
the figures, drawing the charts (medians of wall and of CPU seconds: on a shared machine other
jobs stretch the wall time, much less the CPU time); then once as a person runs it, `leadscore
report` in a new process, beside `leadscore report --help` (the start-up: imports alone).
`--home DIR ...` times existing data homes instead (windows ending today). Figures:
benchmarks/results/report.json.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.report import child_step, peak_rss_mib, write

HISTORIES = ("default", "1M events")
WINDOWS = ("90d", "365d")
REPEATS = 3
WORKDAY_ZONE = ZoneInfo("America/Chicago")


def _history(home: Path) -> tuple[int, str]:
    """Events in the log and the day of the last one."""
    from sqlalchemy import func, select

    from features.event_log import EventLog, events_table

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    with log.engine.connect() as conn:
        count, last = conn.execute(select(func.count(), func.max(events_table.c.occurred_at))).one()
    log.dispose()
    return int(count), str(last)[:10]


def time_window(home: Path, since: str, until: str | None) -> dict[str, Any]:
    """Median seconds of each stage over REPEATS runs, and the rows read."""
    from features.event_log import EventLog
    from serving.analytics import read_team_activity, report_window, team_report
    from serving.analytics_views import sections
    from serving.db import create_serving_tables

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    create_serving_tables(log.engine)
    window = report_window(since, until, None, zone=WORKDAY_ZONE)
    stages: dict[str, list[float]] = {}
    events = new_leads = 0

    def lap(name: str, wall: float, cpu: float) -> tuple[float, float]:
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        stages.setdefault(f"{name}_s", []).append(now_wall - wall)
        stages.setdefault(f"{name}_cpu_s", []).append(now_cpu - cpu)
        return now_wall, now_cpu

    for _ in range(REPEATS):
        clock = time.perf_counter(), time.process_time()
        activity = read_team_activity(log, window)
        clock = lap("read", *clock)
        report = team_report(activity, window, default_capacity=40, compensation_bps=100)
        clock = lap("figures", *clock)
        sections(report)
        lap("charts", *clock)
        events, new_leads = len(activity.events), len(activity.new_leads)
    log.dispose()
    result: dict[str, Any] = {k: statistics.median(v) for k, v in stages.items()}
    result.update(events_read=events, new_leads=new_leads)
    cpu = result["read_cpu_s"] + result["figures_cpu_s"]
    result["cpu_us_per_event"] = 1e6 * cpu / max(events, 1)
    return result


def time_command(home: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of `leadscore report ARGS` as a person runs it (a new process)."""
    command = [str(Path(sys.executable).parent / "leadscore"), "report", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    subprocess.run(
        command, check=True, capture_output=True, env={**os.environ, "LEADSCORE_HOME": str(home)}
    )
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(name: str, home: Path, until: str | None) -> list[tuple[str, dict[str, Any]]]:
    out = []
    history_events, _ = _history(home)
    for since in WINDOWS:
        load = os.getloadavg()[0]
        result = time_window(home, since, until)
        window = ["--since", since, *(["--until", until] if until else [])]
        out_dir = str(home / "report-out")
        result["command_s"], result["command_cpu_s"] = time_command(home, *window, "--out", out_dir)
        result["start_up_s"], result["start_up_cpu_s"] = time_command(home, "--help")
        result["history_events"] = history_events
        result["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        print(f"{name} {since}: {result}", flush=True)
        out.append((f"{name}, {since}", result))
    return out


def main(homes: list[Path]) -> None:
    measured: list[tuple[str, dict[str, Any]]] = []
    if homes:
        for home in homes:
            measured += measure(str(home), home, None)
    else:
        base = Path(os.environ.get("LEADSCORE_BENCH_DIR", tempfile.gettempdir()))
        for size in HISTORIES:
            with tempfile.TemporaryDirectory(dir=base, prefix="leadscore-bench-") as tmp:
                data = child_step("benchmarks.bench_features", "prepare", size, tmp)
                print(f"{size}: {data['leads']:,} leads, {data['events']:,} events", flush=True)
                home = Path(tmp)
                measured += measure(size, home, _history(home)[1])
    figures: dict[str, Any] = dict(measured)
    figures["peak_rss_mib"] = peak_rss_mib()
    rows = [
        [
            label,
            f"{r['history_events']:,}",
            f"{r['events_read']:,}",
            f"{r['new_leads']:,}",
            f"{r['read_cpu_s']:.2f} ({r['read_s']:.2f})",
            f"{r['figures_cpu_s']:.2f} ({r['figures_s']:.2f})",
            f"{r['charts_cpu_s']:.2f} ({r['charts_s']:.2f})",
            f"{r['cpu_us_per_event']:.0f}",
            f"{r['command_cpu_s']:.1f} ({r['command_s']:.1f})",
            f"{r['load_average'][0]}-{r['load_average'][1]}",
        ]
        for label, r in measured
    ]
    write(
        "report",
        figures,
        rows,
        [
            "history, window",
            "events in log",
            "events read",
            "new leads",
            "read: CPU (wall) s",
            "figures: CPU (wall) s",
            "charts: CPU (wall) s",
            "read + figures CPU µs/event",
            "command: CPU (wall) s",
            "load",
        ],
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    main([Path(a) for a in args[args.index("--home") + 1 :]] if "--home" in args else [])
