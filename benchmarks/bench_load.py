"""Load and soak: /v1/queue at a fixed offered rate on the production profile.

`python -m benchmarks.bench_load [--minutes 10] [--rate 50] [--workers 2] [--fresh]`.

The data home is a team's year, made the product's way with the `leadscore` CLI (simulate 10
officers x 12 months x 750 leads a month, ingest, features build, train, promote) on the
production profile: the event log in a PostgreSQL schema of its own (127.0.0.1:5432, database
`test`), the online store in Redis (127.0.0.1:6379, database 12), MLflow in the data home.
Then `leadscore serve --workers 2` starts on a loopback port and a bounded open-loop client
asks for the queues of all officers in turn, as the CRM would at the start of the day: request
i is due at start + i / rate whatever the answers before it, and its latency counts from when it
was due (so a slow server cannot hide behind a slower client). Every 15 s the resident memory
of the server's processes (the supervisor and its workers) is read from /proc.

Reported: latency p50/p95/p99/max over the measured minutes and per minute, 5xx and other
non-200 answers, requests the client could not send in time; memory at the end of the first
measured minute against the last (the soak figure: growth < 10%; `--minutes 60` is the hour
the target names, 10 minutes the default run). A warm-up minute before measuring is excluded.
Figures: benchmarks/results/load.json (or soak.json from 60 minutes on).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.bench_serving import (
    Client,
    _promote_latest_if_no_champion,
    open_loop,
    pct,
    queue_at,
    server_timing,
    start_server,
)
from benchmarks.report import write

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_load"
REDIS = "127.0.0.1:6379,db=12"
SIMULATION = ("--officers", "10", "--months", "12", "--leads-per-month", "750", "--seed", "21")
TARGETS = {"queue_p99_ms": 200.0, "server_errors": 0, "rss_growth": 0.10}
READY_MARKER = ".bench-load-ready"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(
        LEADSCORE_HOME=str(home),
        LEADSCORE_DATABASE_URL=f"{POSTGRES}?options=-csearch_path%3D{SCHEMA}",
        LEADSCORE_MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}",
        LEADSCORE_ONLINE_STORE="redis",
        LEADSCORE_REDIS_URL=REDIS,
        LEADSCORE_RATE_LIMIT="off",
        LEADSCORE_LOG_LEVEL="WARNING",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    return env


def _leadscore() -> str:
    return str(Path(sys.executable).with_name("leadscore"))


def _run(home: Path, *args: str) -> str:
    out = subprocess.run(
        [_leadscore(), *args], env=_env(home), capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"leadscore {' '.join(args)} failed:\n{out.stdout[-2000:]}")
    return out.stdout


def _reset_schema() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()


def prepare_home(home: Path, *, fresh: bool) -> dict[str, float]:
    """Simulate, ingest, build features, train and promote, on PostgreSQL and Redis."""
    if (home / READY_MARKER).exists() and not fresh:
        return {}
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    _reset_schema()
    seconds: dict[str, float] = {}
    for name, args in (
        ("simulate", ["simulate", *SIMULATION]),
        ("ingest", ["ingest"]),
        ("features_build", ["features", "build"]),
        ("train", ["train"]),
    ):
        print(f"  preparing: leadscore {' '.join(args)}", flush=True)
        clock = time.perf_counter()
        _run(home, *args)
        seconds[name] = round(time.perf_counter() - clock, 1)
    _promote_latest_if_no_champion(home)
    (home / READY_MARKER).write_text(json.dumps(seconds))
    return seconds


def tokens(home: Path) -> dict[str, str]:
    from features.event_log import EventLog
    from serving.auth import UserStore
    from serving.db import create_serving_tables

    log = EventLog(_env(home)["LEADSCORE_DATABASE_URL"])
    create_serving_tables(log.engine)
    users = UserStore(log.engine)
    out = {}
    for name, role in (("load-crm", "crm"), ("load-admin", "admin")):
        user = users.get(name)
        out[role] = users.rotate(name) if user and user.active else users.add(name, role)[1]
    log.dispose()
    return out


def officers(home: Path) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(_env(home)["LEADSCORE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT officer_id FROM leads ORDER BY 1")).all()
    engine.dispose()
    return [str(r[0]) for r in rows]


def tree_rss_mib(root: int) -> dict[int, float]:
    """Resident memory (MiB) of root and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    family, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        family.update(children)
        frontier.extend(children)
    sizes = {}
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return sizes


def sample_memory(root: int, every_s: float, stop: threading.Event) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    start = time.perf_counter()

    def loop() -> None:
        while not stop.wait(every_s):
            sizes = tree_rss_mib(root)
            samples.append(
                {
                    "t_s": round(time.perf_counter() - start, 1),
                    "total_mib": round(sum(sizes.values()), 1),
                    "per_process_mib": {str(k): round(v, 1) for k, v in sizes.items()},
                }
            )

    threading.Thread(target=loop, daemon=True).start()
    return samples


def drive(
    port: int, token: str, team: Sequence[str], *, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """The open-loop run: officers' queues in turn; per request its due time, latency, status."""
    at = quote(queue_at().isoformat())
    paths = [f"/v1/queue?officer={officer}&at={at}" for officer in team]
    requests = int(rate * seconds)
    answers: list[tuple[int, float, int]] = []
    lock = threading.Lock()
    clock = time.perf_counter()

    def exchange(client: Client, i: int) -> tuple[bool, float, dict[str, float]]:
        status, _, headers, elapsed = client.request("GET", paths[i % len(paths)])
        with lock:
            answers.append((i, elapsed * 1000, status))
        return status == 200, elapsed * 1000, server_timing(headers)

    clients = [Client(port, token) for _ in range(connections)]
    run = open_loop(clients, exchange, rate=rate, requests=requests, grace_s=30)
    wall = time.perf_counter() - clock
    latencies = [ms + late for ms, late in zip(run.latencies_ms, run.late_ms, strict=True)]
    minutes: dict[int, list[float]] = {}
    for (i, _, _), ms in zip(answers, latencies, strict=True):
        minutes.setdefault(int(i / rate // 60), []).append(ms)
    statuses: dict[str, int] = {}
    for _, _, status in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        **run.figures(rate, requests),
        "p95_ms": round(pct(latencies, 95), 1),
        "p99_from_due_ms": round(pct(latencies, 99), 1),
        "wall_s": round(wall, 1),
        "statuses": statuses,
        "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")),
        "per_minute_p99_ms": {str(m): round(pct(v, 99), 1) for m, v in sorted(minutes.items())},
        "phases_p50_ms": {
            name: round(pct([p.get(name, 0.0) for p in run.phases], 50), 1)
            for name in (run.phases[0] if run.phases else {})
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "ls-bench-load")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data home")
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes")
    parser.add_argument("--rate", type=float, default=50.0, help="offered /v1/queue requests/s")
    parser.add_argument("--workers", type=int, default=2, help="`leadscore serve --workers`")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    prepared = prepare_home(args.home, fresh=args.fresh)
    keys = tokens(args.home)
    team = officers(args.home)
    server = start_server(
        args.home, keys["admin"], deadline_s=900, workers=args.workers, env=_env(args.home)
    )
    stop = threading.Event()
    try:
        warm = drive(
            server.port, keys["crm"], team, rate=args.rate, seconds=60, connections=args.connections
        )
        load_before = os.getloadavg()
        memory = sample_memory(server.process.pid, 15.0, stop)
        run = drive(
            server.port,
            keys["crm"],
            team,
            rate=args.rate,
            seconds=args.minutes * 60,
            connections=args.connections,
        )
        load_after = os.getloadavg()
    finally:
        stop.set()
        server.stop()
    first = next((s for s in memory if s["t_s"] >= 60), memory[0] if memory else None)
    last = memory[-1] if memory else None
    growth = (last["total_mib"] / first["total_mib"] - 1) if first and last else float("nan")
    figures: dict[str, Any] = {
        "targets": TARGETS,
        "profile": {"workers": args.workers, "event_log": "postgresql", "online_store": "redis"},
        "world": {"simulation": list(SIMULATION), "officers": len(team)},
        "prepare_seconds": prepared,
        "ready_s": server.ready_s,
        "all_workers_warm_s": server.warm_s,
        "load_average": {"before": load_before, "after": load_after},
        "warm_up_minute": {k: warm[k] for k in ("p50_ms", "p99_ms", "server_errors")},
        "queue": run,
        "memory": {
            "first_minute_mib": first["total_mib"] if first else None,
            "last_mib": last["total_mib"] if last else None,
            "growth": round(growth, 4),
            "samples": memory,
        },
    }
    label = f"{args.minutes:g} min @ {args.rate:g}/s, {args.workers} workers"
    rows = [
        (f"/v1/queue p50 ({label})", f"{run['p50_ms']:.0f} ms", "", True),
        (
            "/v1/queue p99 from the due time",
            f"{run['p99_from_due_ms']:.0f} ms",
            "< 200 ms",
            run["p99_from_due_ms"] < TARGETS["queue_p99_ms"],
        ),
        (
            "achieved rate, unsent",
            f"{run['achieved_rate']}/s, {run['unsent']}",
            f"{args.rate:g}/s",
            run["unsent"] == 0,
        ),
        ("5xx answers", str(run["server_errors"]), "0", run["server_errors"] == 0),
        (
            "server RSS first minute -> end",
            f"{first['total_mib'] if first else '?'} -> "
            f"{last['total_mib'] if last else '?'} MiB ({growth:+.1%})",
            "< +10%",
            growth < TARGETS["rss_growth"],
        ),
        ("load average before / after", f"{load_before[0]:.1f} / {load_after[0]:.1f}", "", True),
    ]
    write(
        "soak" if args.minutes >= 60 else "load",
        figures,
        rows,
        ("figure", "value", "target", "met"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
