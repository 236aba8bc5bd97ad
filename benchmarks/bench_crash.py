"""`kill -9` of the server during a 10k-event ingest: every acknowledged event stored once.

Each iteration starts `leadscore serve` on a fresh copy of a small world (the API tests'
world: SQLite event log, Feast online store, an MLflow champion), streams 10,000 events in
batches of 500 from a client (one in 50 invalid, so quarantined), SIGKILLs the server at a
random moment (while a chosen batch is in flight, after a random delay), and reads the event
log as the crash left it: every batch is stored whole or not at all, its events and its
quarantined rows together. It then restarts the server, re-sends every batch that was not
acknowledged, and checks that every event is stored exactly once and every invalid one
quarantined once per delivery whose transaction committed.

    python -m benchmarks.bench_crash [--iterations 20] [--events 10000] [--batch 500]

tests/reliability/test_kill_during_ingest.py runs the same experiment once per test run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.report import write

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare_world(root: Path) -> tuple[Path, dict[str, datetime], datetime]:
    """The API tests' world under root; returns it, its leads' creation times and its 'now'."""
    sys.path.insert(0, str(REPO / "tests" / "api"))
    from api_world import write_world

    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    write_world(root, now)
    return root, leads_created(root), now


def leads_created(world: Path) -> dict[str, datetime]:
    """Each lead of the world's event log with its creation time."""
    from features.event_log import EventLog

    log = EventLog(f"sqlite:///{world / 'log.db'}")
    try:
        return {str(k): v.to_pydatetime() for k, v in log.lead_created_at().items()}
    finally:
        log.dispose()


def make_batches(
    created: dict[str, datetime], now: datetime, *, events: int, batch: int, tag: str
) -> list[list[dict[str, Any]]]:
    """events web visits since each lead's creation (one in 50 two days ahead: in the future,
    so quarantined), in batches."""
    rng = random.Random(tag)
    lead_ids = sorted(created)
    rows: list[dict[str, Any]] = []
    for number in range(events):
        lead_id = rng.choice(lead_ids)
        earliest = max(created[lead_id], now - timedelta(hours=1)) + timedelta(seconds=1)
        span_s = max((now - earliest).total_seconds() - 5, 0.0)
        when = earliest + timedelta(seconds=rng.uniform(0, span_s))
        if number % 50 == 49:
            when = now + timedelta(days=2)
        rows.append(
            {
                "event_id": f"CRASH-{tag}-{number:05d}",
                "lead_id": lead_id,
                "occurred_at": when.isoformat(),
                "event_type": "web_visit",
                "page": rng.choice(["/rates", "/apply", "/"]),
            }
        )
    return [rows[i : i + batch] for i in range(0, len(rows), batch)]


@dataclass
class Server:
    home: Path
    token: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
        env.update(
            PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
            MLFLOW_DISABLE_TELEMETRY="true",
            LEADSCORE_HOME=str(self.home),
            LEADSCORE_DATABASE_URL=f"sqlite:///{self.home / 'log.db'}",
            LEADSCORE_MLFLOW_TRACKING_URI=f"sqlite:///{self.home / 'mlflow.db'}",
            LEADSCORE_RATE_LIMIT="off",
            LEADSCORE_LOG_LEVEL="WARNING",
        )
        command = [sys.executable, "-c", "from leadscore.cli import app; app()", "serve"]
        log_file = self.home / "serve.log"
        started = time.monotonic()
        with log_file.open("a") as output:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                env=env,
                cwd=self.home,
                stdout=output,
                stderr=output,
            )
        deadline = started + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {log_file.read_text()[-2000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                connection.request("GET", "/readyz")
                ready = connection.getresponse().status == 200
                connection.close()
                if ready:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready in {READY_TIMEOUT_S:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no rollback but the database's own."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The answer to one batch, or None when it was not acknowledged (any failure)."""
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            connection.request(
                "POST",
                "/v1/events",
                body=json.dumps({"events": events}),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            body = response.read()
            connection.close()
        except (OSError, http.client.HTTPException):
            return None
        if response.status != 200:
            raise AssertionError(f"batch answered {response.status}: {body[:500]!r}")
        answer: dict[str, Any] = json.loads(body)
        return answer


def _stored(home: Path) -> tuple[Counter[str], Counter[str]]:
    """Stored event ids and quarantined event ids, each with how many times it is there."""
    from features.event_log import EventLog

    log = EventLog(f"sqlite:///{home / 'log.db'}")
    try:
        events = Counter(str(e) for e in log.events()["event_id"])
        quarantine = log.quarantined(kind="events")
        held = Counter(str(json.loads(raw).get("event_id")) for raw in quarantine["raw"])
    finally:
        log.dispose()
    return events, held


def _is_valid(event: dict[str, Any], now: datetime) -> bool:
    return datetime.fromisoformat(event["occurred_at"]) <= now


@dataclass
class Iteration:
    kill_batch: int
    kill_delay_s: float
    acknowledged_batches: int
    in_flight_committed: bool
    resent_batches: int
    first_start_s: float
    restart_s: float
    problems: list[str]


def run_iteration(
    world: Path, created: dict[str, datetime], now: datetime, seed: int, *, events: int, batch: int
) -> Iteration:
    """One crash: a private copy of the world, a server, a stream, a kill, a restart, a check."""
    from features.event_log import EventLog
    from serving.auth import UserStore
    from serving.db import create_serving_tables

    rng = random.Random(seed)
    home = Path(tempfile.mkdtemp(prefix=f"crash-{seed}-"))
    try:
        shutil.copy(world / "log.db", home / "log.db")
        shutil.copytree(world / "feast", home / "feast")
        shutil.copy(world / "mlflow.db", home / "mlflow.db")  # artifacts: shared, read-only
        log = EventLog(f"sqlite:///{home / 'log.db'}")
        create_serving_tables(log.engine)
        token = UserStore(log.engine).add("crm", "crm")[1]
        log.dispose()
        before_events, before_held = _stored(home)

        batches = make_batches(created, now, events=events, batch=batch, tag=str(seed))
        server = Server(home, token)
        first_start_s = server.start()
        kill_batch = rng.randrange(max(len(batches) - 2, 1))
        kill_delay_s = rng.uniform(0.0, 0.5)
        acknowledged: dict[int, dict[str, Any]] = {}
        killer: threading.Timer | None = None
        try:
            for number, events_of in enumerate(batches):
                if number == kill_batch:
                    killer = threading.Timer(kill_delay_s, server.kill)
                    killer.start()
                answer = server.post_events(events_of)
                if answer is None:
                    break
                acknowledged[number] = answer
            if killer is not None:
                killer.join()
            if server.process is not None and server.process.poll() is None:
                server.kill()  # the stream ended before the delay: the kill comes after it

            # as the crash left it, before anything is re-sent
            crashed_events, crashed_held = _stored(home)
            problems: list[str] = []
            committed: dict[int, bool] = {}
            for number, events_of in enumerate(batches):
                valid = [e["event_id"] for e in events_of if _is_valid(e, now)]
                invalid = [e["event_id"] for e in events_of if not _is_valid(e, now)]
                stored = sum(crashed_events[i] for i in valid)
                held = sum(crashed_held[i] for i in invalid)
                if stored not in (0, len(valid)) or held not in (0, len(invalid)):
                    problems.append(
                        f"batch {number} half-written: {stored}/{len(valid)} events, "
                        f"{held}/{len(invalid)} quarantined"
                    )
                if (stored == 0) != (held == 0):
                    problems.append(f"batch {number}: events and quarantine disagree")
                committed[number] = stored > 0
                if number in acknowledged and not committed[number]:
                    problems.append(f"batch {number} was acknowledged but is not stored")
            unacknowledged = [n for n in range(len(batches)) if n not in acknowledged]
            in_flight_committed = bool(unacknowledged) and committed[unacknowledged[0]]
            for number in unacknowledged[1:]:
                if committed[number]:
                    problems.append(f"batch {number} stored though never sent")

            restart_s = server.start()
            for number in unacknowledged:
                answer = server.post_events(batches[number])
                if answer is None:
                    problems.append(f"batch {number} re-sent after the restart: no answer")
                    continue
                expected = "duplicate" if committed[number] else "accepted"
                for item, sent in zip(answer["items"], batches[number], strict=True):
                    want = expected if _is_valid(sent, now) else "rejected"
                    if item["status"] != want:
                        problems.append(f"{sent['event_id']} re-sent: {item['status']}")
            for number, answer in acknowledged.items():
                for item, sent in zip(answer["items"], batches[number], strict=True):
                    want = "accepted" if _is_valid(sent, now) else "rejected"
                    if item["status"] != want:
                        problems.append(f"{sent['event_id']} acknowledged as {item['status']}")
        finally:
            if killer is not None:
                killer.cancel()
            server.stop()

        final_events, final_held = _stored(home)
        for number, events_of in enumerate(batches):
            deliveries = 1 + (number in unacknowledged and committed[number])
            for sent in events_of:
                event_id = sent["event_id"]
                if _is_valid(sent, now):
                    if final_events[event_id] != 1:
                        problems.append(f"{event_id} stored {final_events[event_id]} times")
                elif (final_events[event_id], final_held[event_id]) != (0, deliveries):
                    problems.append(
                        f"{event_id}: stored {final_events[event_id]}, quarantined "
                        f"{final_held[event_id]} times of {deliveries} committed deliveries"
                    )
        stream = {e["event_id"] for b in batches for e in b}
        for name, before, after in (
            ("events", before_events, final_events),
            ("quarantined rows", before_held, final_held),
        ):
            if {k: v for k, v in after.items() if k not in stream} != dict(before):
                problems.append(f"{name} other than the stream's changed")
        return Iteration(
            kill_batch,
            round(kill_delay_s, 3),
            len(acknowledged),
            in_flight_committed,
            len(unacknowledged),
            round(first_start_s, 2),
            round(restart_s, 2),
            problems,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _figures(results: list[Iteration], args: argparse.Namespace, elapsed: float) -> dict[str, Any]:
    return {
        "iterations_asked": args.iterations,
        "iterations_done": len(results),
        "events_per_iteration": args.events,
        "batch_size": args.batch,
        "iterations_with_problems": sum(bool(r.problems) for r in results),
        "in_flight_batches_committed": sum(r.in_flight_committed for r in results),
        "batches_resent": sum(r.resent_batches for r in results),
        "restart_s_median": sorted(r.restart_s for r in results)[len(results) // 2],
        "elapsed_s": round(elapsed, 1),
        "runs": [r.__dict__ for r in results],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    partial = Path(__file__).with_name("results") / "crash.partial.json"
    results: list[Iteration] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-world-") as folder:
        world, created, now = prepare_world(Path(folder))
        for number in range(args.iterations):
            result = run_iteration(
                world, created, now, args.seed + number, events=args.events, batch=args.batch
            )
            results.append(result)
            print(
                f"iteration {number + 1:>2}: killed in batch {result.kill_batch} "
                f"(+{result.kill_delay_s:.2f} s), {result.acknowledged_batches} acknowledged, "
                f"in-flight batch {'committed' if result.in_flight_committed else 'lost'}, "
                f"{result.resent_batches} re-sent, restart {result.restart_s:.1f} s: "
                f"{'OK' if not result.problems else '; '.join(result.problems[:5])}",
                flush=True,
            )
            # a long run interrupted keeps what it measured
            figures = _figures(results, args, time.monotonic() - started)
            partial.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    rows = [
        [n + 1, r.kill_batch, r.kill_delay_s, r.acknowledged_batches, r.in_flight_committed]
        + [r.resent_batches, r.restart_s, not r.problems]
        for n, r in enumerate(results)
    ]
    header = ["run", "killed in batch", "delay s", "acked", "in-flight stored", "re-sent"]
    header += ["restart s", "clean"]
    path = write("crash", _figures(results, args, time.monotonic() - started), rows, header)
    partial.unlink(missing_ok=True)
    failed = sum(bool(r.problems) for r in results)
    print(f"{len(results) - failed}/{len(results)} iterations clean; figures in {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
