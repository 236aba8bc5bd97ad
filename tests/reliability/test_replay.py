"""Through the API: the same events replayed three times, shuffled, in batches, with CRM retries,
end in one state (event log, online features, queues), and a late, older event never overwrites
the newer features it arrives after. (The fold's own versions are tests/unit/
test_feature_store.py; these go through ingestion, its per-request online refresh and the
queue.)"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_world import Api, World, event, queue_at, serving_config
from fastapi.testclient import TestClient

from features.build import build_feature_store
from features.event_log import EventLog
from features.store import LeadFeatureStore
from serving.app import create_app

# lead, hours after its creation, event type, extra fields
PLAN: list[tuple[str, float, str, dict[str, Any]]] = [
    ("L01", 2.0, "web_visit", {"page": "/rates"}),
    ("L01", 30.0, "email_opened", {"channel": "email"}),
    ("L01", 200.0, "question_asked", {"question_topic": "rates"}),
    ("L01", 500.0, "web_visit", {"page": "/apply"}),
    ("L03", 1.0, "call", {"call_outcome": "connected"}),
    ("L03", 50.0, "web_visit", {"page": "/"}),
    ("L03", 300.0, "text_sent", {"channel": "text"}),
    ("L05", 5.0, "email_sent", {"channel": "email"}),
    ("L05", 6.0, "email_clicked", {"channel": "email"}),
    ("L05", 100.0, "web_visit", {"page": "/rates"}),
    ("L09", 3.0, "web_visit", {"page": "/apply"}),
    ("L09", 90.0, "call", {"call_outcome": "voicemail"}),
    ("L09", 110.0, "opt_out", {"channel": "text"}),
    ("M01", 4.0, "web_visit", {"page": "/"}),
    ("M01", 400.0, "call", {"call_outcome": "appointment_set"}),
    ("M02", 12.0, "question_asked", {"question_topic": "down_payment"}),
    ("M02", 200.0, "web_visit", {"page": "/rates"}),
]


def _events(world: World, api: Api) -> list[dict[str, Any]]:
    created = api.ctx.event_log.lead_created_at(sorted({lead for lead, *_ in PLAN}))
    return [
        event(
            f"RP-{k:02d}",
            lead,
            kind,
            occurred_at=created[lead].to_pydatetime() + timedelta(hours=hours),
            **extra,
        )
        for k, (lead, hours, kind, extra) in enumerate(PLAN)
    ]


def _state_hash(api: Api, at: datetime) -> str:
    """The event log's events, every lead's online features at `at` and both officers' queues
    at `at`: what a replay must reproduce (not when rows arrived, nor the audit trail)."""
    events = api.ctx.event_log.events().drop(columns=["ingested_at", "seq"], errors="ignore")
    events = events.sort_values("event_id").reset_index(drop=True)
    leads = sorted(api.ctx.event_log.leads()["lead_id"])
    online = api.ctx.feature_store.online_features(leads, at)
    queues = []
    for officer in ("lo-01", "lo-02"):
        body = api.get("/v1/queue", "crm", params={"officer": officer, "at": at.isoformat()})
        assert body.status_code == 200, body.text[:300]
        queue = body.json()
        queues.append(
            (
                [(i["lead_id"], i["rank"], i["lane"], i["probability"]) for i in queue["items"]],
                sorted((h["lead_id"], h["rule"]) for h in queue["held_back"]),
            )
        )
    text = json.dumps([events.to_json(), online.to_json(), queues], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def built(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world after a feature build: saved fold states, so a replay's refreshes fold new
    events onto them (and refold a lead on a late event) as in production, not from scratch."""
    home = tmp_path_factory.mktemp("built")
    config = serving_config(world, home)
    log = EventLog(config.event_log_url)
    build_feature_store(log, LeadFeatureStore(config.feature_store_dir), now=world.now)
    log.dispose()
    return home


def _app(world: World, template: Path, home: Path) -> tuple[TestClient, Api]:
    shutil.copytree(template, home)
    app = create_app(serving_config(world, home))
    client = TestClient(app)
    client.__enter__()
    ctx = app.state.ctx
    tokens = {"crm": ctx.users.add("crm-replay", "crm")[1]}
    return client, Api(client, ctx, tokens, world, home)


def test_three_shuffled_replays_with_retries_end_in_one_state(
    world: World, built: Path, tmp_path: Path
) -> None:
    at = queue_at()
    hashes = []
    for seed in (1, 2, 3):
        client, api = _app(world, built, tmp_path / f"replay-{seed}")
        try:
            untouched = _state_hash(api, at)
            events = _events(world, api)
            random.Random(seed).shuffle(events)
            for start in range(0, len(events), 5):
                batch = events[start : start + 5]
                retry = batch[:2]  # the CRM resends part of the batch: duplicates
                response = api.post("/v1/events", "crm", json={"events": batch + retry})
                assert response.status_code == 200
                assert response.json()["accepted"] == len(batch), [
                    (i["id"], i["status"], i["reasons"]) for i in response.json()["items"]
                ]
            again = api.post("/v1/events", "crm", json={"events": events})  # a full replay
            assert again.json()["duplicates"] == len(events)
            hashes.append(_state_hash(api, at))
        finally:
            client.__exit__(None, None, None)
    assert hashes[0] != untouched  # the replay changed the state ...
    assert hashes[0] == hashes[1] == hashes[2]  # ... to the same state in every order


def _online(api: Api, lead: str, at: datetime) -> dict[str, Any]:
    row = api.ctx.feature_store.online_features([lead], at).iloc[0]
    return {k: row[k] for k in ("web_visits_7d", "days_since_last_visit", "last_call_outcome")}


def _explained(api: Api, lead: str) -> dict[str, Any]:
    body = api.get(f"/v1/leads/{lead}/explanation", "crm").json()
    return {c["feature"]: c["value"] for c in body["contributions"]}


@pytest.fixture(scope="module")
def built_api(world: World, built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    client, api = _app(world, built, tmp_path_factory.mktemp("late") / "home")
    yield api
    client.__exit__(None, None, None)


LATE_LEADS = {
    ("web_visit", False): "L10",
    ("call", False): "L11",
    ("web_visit", True): "L13",
    ("call", True): "L14",
}


@pytest.mark.parametrize("nightly_build", [False, True])
@pytest.mark.parametrize("late_kind", ["web_visit", "call"])
def test_a_late_older_event_never_overwrites_newer_features(
    built_api: Api, late_kind: str, nightly_build: bool
) -> None:
    """The newer events are pending (folded at each refresh) or, after a nightly build, in the
    lead's saved state; either way the late one takes its place in time, behind them."""
    api = built_api
    lead = LATE_LEADS[late_kind, nightly_build]
    newer = [
        event(f"NEW-{lead}-V", lead, "web_visit", page="/apply"),
        event(f"NEW-{lead}-C", lead, "call", call_outcome="appointment_set"),
    ]
    assert api.post("/v1/events", "crm", json={"events": newer}).json()["accepted"] == 2
    if nightly_build:
        build_feature_store(api.ctx.event_log, api.ctx.feature_store)
    at = datetime.now(UTC) + timedelta(minutes=1)
    fresh = _online(api, lead, at)
    assert fresh["last_call_outcome"] == "appointment_set"
    assert fresh["days_since_last_visit"] < 5 / (24 * 60)

    # a minute after the lead's creation: older than every event it has but its creation
    older = api.ctx.event_log.lead_created_at([lead])[lead].to_pydatetime() + timedelta(minutes=1)
    late = (
        event(f"OLD-{lead}", lead, "web_visit", page="/rates", occurred_at=older)
        if late_kind == "web_visit"
        else event(f"OLD-{lead}", lead, "call", call_outcome="not_interested", occurred_at=older)
    )
    assert api.post("/v1/events", "crm", json={"events": [late]}).json()["accepted"] == 1
    after = _online(api, lead, at)
    assert after["last_call_outcome"] == "appointment_set"  # the newer call still wins
    assert after["days_since_last_visit"] == pytest.approx(fresh["days_since_last_visit"])
    counted = 1 if late_kind == "web_visit" and older > at - timedelta(days=7) else 0
    assert after["web_visits_7d"] == fresh["web_visits_7d"] + counted  # the late one counts
    served = _explained(api, lead)
    assert served["last_call_outcome"] == "appointment_set"
    assert served["days_since_last_visit"] < 5 / (24 * 60)
