"""A dependency down (issue 14, item 2.12): PostgreSQL (event log, users, audit), Redis (online
store) or the MLflow store unreachable. /readyz answers 503 naming the part (names and states
only to anonymous callers), every API route answers JSON (503 with what is unavailable), never
a 500, and no queue is served without its compliance check: no queue rather than an unchecked
one. The machine's PostgreSQL and Redis stay up: this process reaches them through a loopback
forwarder the test cuts."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from features.store import LeadFeatureStore
from serving.app import create_app
from serving.config import ServingConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_world import event, new_lead, queue_at, write_world  # noqa: E402
from services import POSTGRES_URL, REDIS_ADDRESS, reachable  # noqa: E402
from tcp_cut import CuttableTcp  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS_DB = 12


@dataclass
class Deps:
    client: TestClient
    tokens: dict[str, str]
    postgres: CuttableTcp
    redis: CuttableTcp

    def call(self, method: str, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deps]:
    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (start it to run this test)")
    redis_host, redis_port = REDIS_ADDRESS.split(":")
    if not reachable(redis_host, int(redis_port)):
        pytest.skip(f"Redis is not reachable on {REDIS_ADDRESS} (start it to run this test)")
    root = tmp_path_factory.mktemp("down")
    schema = f"down_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    postgres = CuttableTcp("127.0.0.1", 5432)
    redis = CuttableTcp(redis_host, int(redis_port))
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{postgres.port}")
    url = f"{url}?options=-csearch_path%3D{schema}&connect_timeout=2"
    redis_url = f"127.0.0.1:{redis.port},db={REDIS_DB}"
    store = LeadFeatureStore(root / "feast", online_store="redis", redis_url=redis_url)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    world = write_world(root, now, event_log_url=url, feature_store=store)
    config = ServingConfig(
        event_log_url=url,
        tracking_uri=f"sqlite:///{world.mlflow_db}",
        feature_store_dir=root / "feast",
        online_store="redis",
        redis_url=redis_url,
        warm_up=False,
        rate_limit="off",
        feature_cache_ttl_s=0,
    )
    try:
        with TestClient(create_app(config), raise_server_exceptions=False) as client:
            ctx = client.app.state.ctx  # type: ignore[attr-defined]
            tokens = {
                "admin": ctx.users.add("admin", "admin")[1],
                "crm": ctx.users.add("crm", "crm")[1],
                "officer": ctx.users.add("ana", "officer", officer_id="lo-01")[1],
            }
            yield Deps(client, tokens, postgres, redis)
    finally:
        store.store.teardown()  # Feast's keys of this project, through the mended forwarder
        postgres.cut()
        redis.cut()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _requests() -> list[tuple[str, str, str | None, dict[str, Any]]]:
    at = queue_at().isoformat().replace("+00:00", "Z")
    return [
        ("GET", "/v1/model", "admin", {}),
        ("GET", f"/v1/queue?at={at}", "officer", {}),
        ("GET", f"/v1/queue?officer=lo-01&at={at}", "crm", {}),
        ("POST", "/v1/score", "crm", {"json": {"lead_ids": ["L01", "L02"]}}),
        ("GET", "/v1/leads/L01/explanation", "officer", {}),
        (
            "POST",
            "/v1/events",
            "crm",
            {"json": {"events": [event(f"DOWN-{uuid.uuid4().hex[:8]}", "L01", "web_visit")]}},
        ),
        ("POST", "/v1/leads", "crm", {"json": {"leads": [new_lead("L-DOWN")]}}),
        ("GET", "/v1/audit", "admin", {}),
        ("GET", "/v1/users", "admin", {}),
        ("POST", "/v1/model/reload", "admin", {}),
        ("GET", "/metrics", None, {}),
        ("GET", "/healthz", None, {}),
    ]


def _answers(deps: Deps) -> dict[str, tuple[int, str]]:
    answers = {}
    for method, path, who, kwargs in _requests():
        response = deps.call(method, path, who, **kwargs)
        answers[f"{method} {path.split('?')[0]} ({who})"] = (response.status_code, response.text)
    return answers


def _wait_ready(deps: Deps) -> None:
    """Pooled connections cut with the forwarder are found dead and replaced."""
    deadline = time.monotonic() + 30
    while deps.call("GET", "/readyz", None).status_code != 200:
        assert time.monotonic() < deadline, deps.call("GET", "/readyz", "admin").text
        time.sleep(0.5)


NEEDS_EVENT_LOG = {
    "/v1/model",
    "/v1/queue",
    "/v1/score",
    "/v1/leads/L01/explanation",
    "/v1/events",
    "/v1/leads",
    "/v1/audit",
    "/v1/users",
    "/v1/model/reload",
}
NEEDS_ONLINE_STORE = {
    "/v1/queue",
    "/v1/score",
    "/v1/leads/L01/explanation",
    "/v1/events",
    "/v1/leads",
}


@pytest.mark.parametrize(
    ("part", "needs", "named"),
    [("postgres", NEEDS_EVENT_LOG, "event_log"), ("redis", NEEDS_ONLINE_STORE, "feature_store")],
)
def test_a_store_down_answers_503_naming_it_and_never_500(
    deps: Deps, part: str, needs: set[str], named: str
) -> None:
    _wait_ready(deps)
    assert all(status == 200 for status, _ in _answers(deps).values())
    forwarder: CuttableTcp = getattr(deps, part)
    forwarder.cut()
    try:
        for who in (None, "admin"):
            ready = deps.call("GET", "/readyz", who)
            assert ready.status_code == 503
            others = {"model": "ok", "event_log": "ok", "feature_store": "ok"}
            if part == "postgres" or who is None:  # with the event log down no token is checked
                assert ready.json() == {"ready": False, "checks": {**others, named: "unavailable"}}
            else:
                assert ready.json()["checks"][named].startswith("unreachable: ConnectionError")
        for request, (status, body) in _answers(deps).items():
            path = request.split(" ")[1]
            if path in needs:
                assert status == 503, (request, body)
                answer = json.loads(body)
                assert set(answer) == {"detail", "request_id"}, (request, body)
                assert "cannot be reached" in answer["detail"], (request, body)
                assert "127.0.0.1" not in body
            else:
                assert status == 200, (request, body)
    finally:
        forwarder.mend()
    _wait_ready(deps)
    assert all(status == 200 for status, _ in _answers(deps).values())


def test_no_queue_without_its_compliance_check(deps: Deps) -> None:
    """An opt-out acknowledged, then the event log goes down: the queue is not served from
    anything cached (the lead would be back on it), it is not served at all."""
    _wait_ready(deps)
    at = queue_at().isoformat().replace("+00:00", "Z")
    listed = deps.call("GET", f"/v1/queue?at={at}", "officer").json()
    assert "L02" in [item["lead_id"] for item in listed["items"]]
    opt_out = event("DOWN-OPT-L02", "L02", "opt_out", channel="call")
    assert deps.call("POST", "/v1/events", "crm", json={"events": [opt_out]}).status_code == 200
    deps.postgres.cut()
    try:
        for _ in range(3):
            queue = deps.call("GET", f"/v1/queue?at={at}", "officer")
            assert queue.status_code == 503
            assert "items" not in queue.json()
    finally:
        deps.postgres.mend()
    _wait_ready(deps)
    queue = deps.call("GET", f"/v1/queue?at={at}", "officer").json()
    assert "L02" not in [item["lead_id"] for item in queue["items"]]


def test_an_event_stored_while_redis_was_down_reaches_it_on_the_crm_retry(deps: Deps) -> None:
    """The event log took the event, the online push failed (503): the CRM's retry finds it
    stored (duplicate) and pushes the lead's row, instead of leaving it to the next build."""
    _wait_ready(deps)
    ctx = deps.client.app.state.ctx  # type: ignore[attr-defined]
    before = ctx.feature_store.online_features(["L05"], datetime.now(UTC))["web_visits_1d"].iloc[0]
    visit = event("DOWN-VISIT-L05", "L05", "web_visit", page="/apply")
    deps.redis.cut()
    try:
        assert deps.call("POST", "/v1/events", "crm", json={"events": [visit]}).status_code == 503
    finally:
        deps.redis.mend()
    _wait_ready(deps)
    retry = deps.call("POST", "/v1/events", "crm", json={"events": [visit]})
    assert (retry.status_code, retry.json()["duplicates"]) == (200, 1)
    after = ctx.feature_store.online_features(["L05"], datetime.now(UTC))["web_visits_1d"].iloc[0]
    assert after == before + 1


def test_the_model_registry_down_at_start_is_named_and_answered_503(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MLflow store (a tracking server here) refuses connections when the service starts:
    it runs, /readyz names the model, scores and queues answer 503, a reload 409 (nothing to
    swap in); the event log and online store keep answering."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    closed = CuttableTcp("127.0.0.1", 9)
    closed.cut()
    config = deps.client.app.state.config  # type: ignore[attr-defined]
    down = dataclasses.replace(config, tracking_uri=f"http://127.0.0.1:{closed.port}")
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {
            "ready": False,
            "checks": {"model": "unavailable", "event_log": "ok", "feature_store": "ok"},
        }
        officer = {"Authorization": f"Bearer {deps.tokens['officer']}"}
        admin = {"Authorization": f"Bearer {deps.tokens['admin']}"}
        at = queue_at().isoformat().replace("+00:00", "Z")
        for response in (
            client.get(f"/v1/queue?at={at}", headers=officer),
            client.post("/v1/score", headers=officer, json={"lead_ids": ["L01"]}),
            client.get("/v1/leads/L01/explanation", headers=officer),
        ):
            assert response.status_code == 503, response.text
            assert "items" not in response.json()
        reload = client.post("/v1/model/reload", headers=admin)
        assert reload.status_code == 409, reload.text
        assert "still serving no model" in reload.json()["detail"]
        assert client.get("/v1/audit", headers=admin).status_code == 200
