"""Ingestion benchmark: POST /v1/events against the real service on a loopback port.

`python -m benchmarks.bench_ingest [--fresh] [--home DIR] [--rate 50] [--seconds 60]`. The data
home is the default simulated world (`leadscore simulate` with its defaults: 5 officers, a
year, ~2,400 leads), prepared the product's way with the CLI and kept for the next run; an
incremental `leadscore features build` then folds earlier runs' events (as a nightly build
would: a refresh folds a lead's events since the last build). Then `leadscore serve` starts on
a free 127.0.0.1 port and this process measures, with keep-alive http.client connections (a
light client):

- one event a request (a web visit of a random lead) at a fixed offered rate, open loop over
  4 connections, for a bounded time: p50/p99/max, achieved rate, errors (a status other than 200
  or an item not accepted); the server's own time and its phases (validate, store, refresh)
  come from the Server-Timing header; the client's share is the round trip of GET /healthz;
- 100 and 1,000 events in one request: the median and worst of a few requests, with phases.

Every accepted event is real: it lands in the event log and refreshes its lead's online
features before the answer, as the CRM's webhooks would. Figures: benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_serving import (
    Client,
    _run,
    _tokens,
    measure_client_share,
    open_loop,
    pct,
    prepare_home,
    server_timing,
    start_server,
)
from benchmarks.report import write

TARGETS = {"one_event_p99_ms": 20.0, "thousand_events_ms": 300.0}
_ids = itertools.count()


def _events(lead_ids: list[str], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """n new web visits of random leads, happening now (unique ids: each one is accepted)."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    run = os.getpid()
    return [
        {
            "event_id": f"bench-{run}-{next(_ids)}",
            "lead_id": rng.choice(lead_ids),
            "occurred_at": at,
            "event_type": "web_visit",
            "page": "/rates",
        }
        for _ in range(n)
    ]


def _post(client: Client, events: list[dict[str, Any]]) -> tuple[bool, float, dict[str, float]]:
    """(every item accepted, milliseconds, Server-Timing phases)."""
    status, body, headers, elapsed = client.request("POST", "/v1/events", {"events": events})
    ok = status == 200 and json.loads(body)["accepted"] == len(events)
    return ok, elapsed * 1000, server_timing(headers)


def measure_one_event_rate(
    port: int, token: str, lead_ids: list[str], *, rate: float, seconds: float, connections: int = 4
) -> dict[str, Any]:
    """One event a request at a fixed offered rate for a bounded time (open loop): requests the
    server could not take within 10 s after the last was due are counted unsent."""
    requests = int(rate * seconds)
    clients = [Client(port, token) for _ in range(connections)]
    rng = random.Random(11)
    for client in clients:  # warm each connection
        _post(client, _events(lead_ids, 1, rng))
    batches = [_events(lead_ids, 1, rng) for _ in range(requests)]
    run = open_loop(
        clients, lambda c, i: _post(c, batches[i]), rate=rate, requests=requests, grace_s=10.0
    )
    return {
        **run.figures(rate, requests),
        "seconds": seconds,
        "answered": len(run.latencies_ms),
        "phases_p50_ms": _phase_percentile(run.phases, 50),
        "phases_p99_ms": _phase_percentile(run.phases, 99),
    }


def _phase_percentile(phases: list[dict[str, float]], q: float) -> dict[str, float]:
    names = dict.fromkeys(name for timing in phases for name in timing)
    return {name: round(pct([t.get(name, 0.0) for t in phases], q), 2) for name in names}


def measure_batch(
    port: int, token: str, lead_ids: list[str], *, size: int, repeats: int = 5
) -> dict[str, Any]:
    """size events in one request: median and worst of `repeats` requests, with phases."""
    client = Client(port, token)
    rng = random.Random(size)
    times: list[float] = []
    phases: list[dict[str, float]] = []
    errors = 0
    for _ in range(repeats):
        ok, elapsed_ms, timing = _post(client, _events(lead_ids, size, rng))
        errors += not ok
        times.append(elapsed_ms)
        phases.append(timing)
    client.close()
    return {
        "events": size,
        "requests": repeats,
        "errors": errors,
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "phases_p50_ms": _phase_percentile(phases, 50),
    }


def known_leads(home: Path) -> list[str]:
    from features.event_log import EventLog

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    ids = [str(v) for v in log.leads()["lead_id"]]
    log.dispose()
    return ids


def _events_since_build(home: Path) -> int:
    from features.event_log import EventLog

    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    watermark = log.feature_watermark()
    backlog = log.last_event_seq() - (watermark[0] if watermark else 0)
    log.dispose()
    return backlog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-bench-ingest"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the data home")
    parser.add_argument("--rate", type=float, default=50.0, help="one-event requests a second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to offer them")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    warnings.filterwarnings("ignore")

    prepared = prepare_home(args.home, fresh=args.fresh, simulation=())
    # A reused home holds every earlier run's events: fold them as the nightly build would, so
    # a refresh folds this run's events since then (the product's daily shape), not all runs'.
    backlog = _events_since_build(args.home)
    clock = time.perf_counter()
    _run(args.home, "features", "build", timeout_s=900)
    build_s = time.perf_counter() - clock
    tokens = _tokens(args.home)
    leads = known_leads(args.home)
    load_before = os.getloadavg()
    server = start_server(args.home, tokens["admin"])
    try:
        client_share = measure_client_share(server.port)
        one = measure_one_event_rate(
            server.port, tokens["crm"], leads, rate=args.rate, seconds=args.seconds
        )
        # At a rate the server keeps up with: each request's own cost, without queueing.
        light = measure_one_event_rate(
            server.port, tokens["crm"], leads, rate=2.0, seconds=20.0, connections=1
        )
        hundred = measure_batch(server.port, tokens["crm"], leads, size=100)
        thousand = measure_batch(server.port, tokens["crm"], leads, size=1000)
    finally:
        server.stop()

    figures = {
        "targets": TARGETS,
        "load_average_at_start": [round(v, 2) for v in load_before],
        "prepare_seconds": prepared,
        "incremental_build_before": {"events": backlog, "seconds": round(build_s, 2)},
        "leads": len(leads),
        "startup": {"ready_s": server.ready_s, "warm_s": server.warm_s},
        "one_event": {**one, **client_share},
        "one_event_at_2_per_s": light,
        "batch_100": hundred,
        "batch_1000": thousand,
    }
    rate = f"{args.rate:.0f}/s for {args.seconds:.0f} s"
    rows = [
        (f"1 event p50 @ {rate}", f"{one['p50_ms']:.1f} ms", "", True),
        (
            f"1 event p99 @ {rate}",
            f"{one['p99_ms']:.1f} ms",
            "<= 20 ms",
            one["p99_ms"] <= TARGETS["one_event_p99_ms"],
        ),
        ("1 event max", f"{one['max_ms']:.1f} ms", "", True),
        (
            "achieved rate, errors, unsent",
            f"{one['achieved_rate']}/s, {one['errors']}, {one['unsent']}",
            "no errors",
            one["errors"] == 0 and one["unsent"] == 0,
        ),
        (
            "  server's own time p50 / p99",
            f"{one['server_p50_ms']} / {one['server_p99_ms']} ms",
            "",
            True,
        ),
        *[
            (
                f"    {name} p50 / p99",
                f"{one['phases_p50_ms'][name]} / {one['phases_p99_ms'][name]} ms",
                "",
                True,
            )
            for name in one["phases_p50_ms"]
        ],
        ("  client + HTTP (GET /healthz p50)", f"{client_share['healthz_p50_ms']} ms", "", True),
        ("  requests sent late p99", f"{one['sent_late_p99_ms']} ms", "", True),
        (
            "1 event at 2/s, 1 connection (p50 / p99)",
            f"{light['p50_ms']} / {light['p99_ms']} ms",
            "",
            light["errors"] == 0,
        ),
        *[
            (f"    {name} p50 / p99", f"{ms} / {light['phases_p99_ms'][name]} ms", "", True)
            for name, ms in light["phases_p50_ms"].items()
        ],
        (
            "100 events, one request (median / max)",
            f"{hundred['median_ms']:.0f} / {hundred['max_ms']:.0f} ms",
            "",
            hundred["errors"] == 0,
        ),
        (
            "1,000 events, one request (median / max)",
            f"{thousand['median_ms']:.0f} / {thousand['max_ms']:.0f} ms",
            "<= 300 ms",
            thousand["median_ms"] <= TARGETS["thousand_events_ms"] and thousand["errors"] == 0,
        ),
        *[
            (f"    {name} (1,000 events, p50)", f"{ms} ms", "", True)
            for name, ms in thousand["phases_p50_ms"].items()
        ],
    ]
    write("ingest", figures, rows, ("figure", "measured", "target", "met"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
