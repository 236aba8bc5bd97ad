"""The production profile: `leadscore serve --workers 2` on a real PostgreSQL event log and a
real Redis online store. What one worker takes in, the other serves: ingestion, opt-outs,
idempotence and the rate limit's budget are shared, whichever worker answers; and the webhook
outbox, which both workers' delivery threads drain, sends each event once."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from features.event_log import EventLog
from features.store import LeadFeatureStore
from serving.auth import UserStore
from serving.db import create_serving_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from api_world import event, new_lead, queue_at, write_world  # noqa: E402
from webhook_receiver import serve_receiver  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REDIS_DB = 13
"""A Redis database of this test's own: Feast's keys and the rate-limit counters go there and
are deleted afterwards."""
RATE_LIMIT = 20
MODEL_POLL_S = 1.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Production:
    port: int
    tokens: dict[str, str]
    event_log: EventLog
    feature_store: LeadFeatureStore
    log_file: Path
    versions: dict[str, str]


@pytest.fixture
def production(tmp_path: Path, postgres_url: str, redis_address: str) -> Iterator[Production]:
    import redis

    host, port = redis_address.split(":")
    counters = redis.Redis(host=host, port=int(port), db=REDIS_DB)
    redis_url = f"{redis_address},db={REDIS_DB}"
    store = LeadFeatureStore(tmp_path / "feast", online_store="redis", redis_url=redis_url)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    world = write_world(tmp_path, now, event_log_url=postgres_url, feature_store=store)
    log = EventLog(postgres_url)
    create_serving_tables(log.engine)
    users = UserStore(log.engine)
    tokens = {
        "admin": users.add("admin", "admin")[1],
        "crm": users.add("crm", "crm")[1],
        "crm-limited": users.add("crm-limited", "crm")[1],
        "officer": users.add("ana", "officer", officer_id="lo-01")[1],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        MLFLOW_DISABLE_TELEMETRY="true",
        LEADSCORE_HOME=str(tmp_path),
        LEADSCORE_DATABASE_URL=postgres_url,
        LEADSCORE_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        LEADSCORE_ONLINE_STORE="redis",
        LEADSCORE_REDIS_URL=redis_url,
        LEADSCORE_RATE_LIMIT=f"{RATE_LIMIT}/minute",
        LEADSCORE_LOG_LEVEL="WARNING",
        LEADSCORE_MODEL_POLL_S=str(MODEL_POLL_S),
    )
    server_port = _free_port()
    log_file = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-c",
        "from leadscore.cli import app; app()",
        "serve",
        "--workers",
        "2",
        "--port",
        str(server_port),
    ]
    with log_file.open("w") as output:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=output, stderr=output)
    try:
        _wait_ready(server_port, process, log_file)
        yield Production(server_port, tokens, log, store, log_file, world.versions)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        store.store.teardown()  # Feast's keys of this project
        for key in counters.scan_iter("leadscore:ratelimit*"):
            counters.delete(key)
        counters.close()
        log.dispose()


def _wait_ready(port: int, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}): {log_file.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                connection.close()
                return
            connection.close()
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server was not ready in 180 s: {log_file.read_text()[-2000:]}")


class Worker:
    """A kept-alive connection, so every request on it reaches the same worker process."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.tokens = tokens
        self.pid = int(self.call("GET", "/readyz", "admin")[1]["process_id"])

    def call(
        self, method: str, path: str, who: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"null")


def _two_workers(production: Production) -> tuple[Worker, Worker]:
    """Connections to two different worker processes. /readyz answered 200 once the first
    worker was up; the second may still be loading its stores and model, and until then every
    connection reaches the first. Each new connection then goes to whichever worker accepts
    it first."""
    by_pid: dict[int, Worker] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        worker = Worker(production.port, production.tokens)
        if worker.pid in by_pid:
            worker.connection.close()
            for kept in by_pid.values():  # uvicorn closes a connection idle for 5 s
                kept.call("GET", "/readyz", "admin")
            time.sleep(0.2)
            continue
        by_pid[worker.pid] = worker
        if len(by_pid) == 2:
            first, second = by_pid.values()
            return first, second
    pytest.fail(f"for 120 s every connection reached one worker process: {sorted(by_pid)}")


def test_two_workers_share_the_event_log_online_store_rate_limit_and_champion(
    production: Production,
) -> None:
    a, b = _two_workers(production)
    assert a.pid != b.pid
    for worker in (a, b):
        status, ready = worker.call("GET", "/readyz", "admin")
        assert (status, ready["checks"]) == (
            200,
            {"model": "ok", "event_log": "ok", "feature_store": "ok"},
        )

    # an event taken in by one worker is in the shared online store before the answer
    visit = event("PROD-VISIT-1", "L09", "web_visit", page="/apply")
    before = production.feature_store.online_features(["L09"], datetime.now(UTC))
    status, answer = a.call("POST", "/v1/events", "crm", {"events": [visit]})
    assert (status, answer["accepted"]) == (200, 1)
    after = production.feature_store.online_features(["L09"], datetime.now(UTC))
    assert after["web_visits_1d"].iloc[0] == before["web_visits_1d"].iloc[0] + 1
    # ... and the other worker knows it is stored (idempotence by event id across workers)
    status, again = b.call("POST", "/v1/events", "crm", {"events": [visit]})
    assert (status, again["duplicates"]) == (200, 1)
    stored = production.event_log.events(lead_ids=["L09"])
    assert (stored["event_id"] == "PROD-VISIT-1").sum() == 1

    # an opt-out taken in by one worker holds the lead back in the other's very next queue
    queue_path = f"/v1/queue?at={queue_at().isoformat().replace('+00:00', 'Z')}"
    status, queue = b.call("GET", queue_path, "officer")
    assert status == 200
    assert "L02" in [item["lead_id"] for item in queue["items"]]
    opt_out = event("PROD-OPT-L02", "L02", "opt_out", channel="call")
    assert a.call("POST", "/v1/events", "crm", {"events": [opt_out]})[0] == 200
    status, queue = b.call("GET", queue_path, "officer")
    assert "L02" not in [item["lead_id"] for item in queue["items"]]
    assert {h["lead_id"]: h["rule"] for h in queue["held_back"]}["L02"] == "opted_out"

    # one token's budget is spent across both workers, not once per worker
    statuses = [
        worker.call("GET", "/v1/model", "crm-limited")[0]
        for _ in range(RATE_LIMIT)
        for worker in (a, b)
    ]
    assert statuses.count(200) == RATE_LIMIT
    assert statuses.count(429) == RATE_LIMIT
    # (and each connection stayed with its worker throughout)
    assert [w.call("GET", "/readyz", "admin")[1]["process_id"] for w in (a, b)] == [a.pid, b.pid]

    # a promotion reaches every worker without a restart; a corrupt champion reaches none
    import mlflow

    uri = f"sqlite:///{production.log_file.parent / 'mlflow.db'}"
    registry = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert _served(a, b) == {"lead-scorer/1"}
    other, broken = production.versions["other"], production.versions["broken"]
    registry.set_registered_model_alias("lead-scorer", "champion", other)
    _wait_for(lambda: _served(a, b) == {f"lead-scorer/{other}"}, MODEL_POLL_S * 20)
    registry.set_registered_model_alias("lead-scorer", "champion", broken)
    _wait_for(lambda: all(_ready(w)["model_last_error"] for w in (a, b)), MODEL_POLL_S * 20)
    assert _served(a, b) == {f"lead-scorer/{other}"}
    registry.set_registered_model_alias("lead-scorer", "champion", "1")
    _wait_for(lambda: _served(a, b) == {"lead-scorer/1"}, MODEL_POLL_S * 20)

    # webhook events queued by either worker are sent once, though both workers' delivery
    # threads claim from the one outbox
    with serve_receiver() as receiver:
        status, made = a.call("POST", "/v1/webhooks", "admin", {"url": receiver.url})
        assert status == 201, made
        for k, worker in enumerate((a, b, a, b)):
            leads = [new_lead(f"PROD-HOOK-{k}-{i}") for i in range(10)]
            assert worker.call("POST", "/v1/leads", "crm", {"leads": leads})[0] == 200
        receiver.wait_for(40, timeout_s=60)
        time.sleep(3)  # time for a second send of anything, were one coming
    keys = [r.headers["Idempotency-Key"] for r in receiver.received]
    assert len(keys) == 40
    assert len(set(keys)) == 40
    status, log = b.call("GET", f"/v1/webhooks/{made['webhook']['id']}/deliveries", "admin")
    assert {(d["status"], d["attempts"]) for d in log} == {("delivered", 1)}


def _ready(worker: Worker) -> dict[str, Any]:
    """An admin's /readyz (not rate limited, unlike /v1/model): the model and its last error."""
    status, body = worker.call("GET", "/readyz", "admin")
    assert status == 200, body
    return body


def _served(*workers: Worker) -> set[str]:
    return {str(_ready(w)["model_version"]) for w in workers}


def _wait_for(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s:.0f} s")
        time.sleep(0.2)
