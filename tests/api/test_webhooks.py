"""Webhooks to the CRM: each event from its real cause through the API, signed deliveries to a
real receiver on 127.0.0.1, retries with growing waits that stop, one claim per delivery across
workers, removal, validation, and no personal data in payloads or logs.

The module's app runs no delivery worker: tests send with their own WebhookDeliverer and a
clock they move, so a backoff of minutes takes no time. One test starts the server's own
worker with waits of milliseconds."""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_world import Api, World, event, new_lead, serving_config
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from webhook_receiver import Receiver

from features.event_log import EventLog
from serving.app import create_app
from serving.config import WebhookConfig
from serving.context import ServingContext
from serving.ingest import ingest_records
from serving.webhooks.delivery import WebhookDeliverer
from serving.webhooks.events import IngestionWebhooks, ScoreSeen, note_scores
from serving.webhooks.store import WebhookStore, webhook_events_table

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "test-secret-0123456789abcdef"
BASE_S = 10.0
MAX_ATTEMPTS = 5
CONFIG = WebhookConfig(
    worker=False, max_attempts=MAX_ATTEMPTS, backoff_base_s=BASE_S, backoff_max_s=3600.0
)


@dataclass
class Clock:
    """A clock the test moves; starts a second after the real one (events are queued 'now')."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(seconds=1))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def hooks(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("webhooks")
    app = create_app(serving_config(world, home, webhooks=CONFIG))
    with TestClient(app) as client:
        ctx: ServingContext = app.state.ctx
        tokens = {
            "admin": ctx.users.add("admin-1", "admin")[1],
            "crm": ctx.users.add("crm-1", "crm")[1],
            "officer": ctx.users.add("ana", "officer", officer_id="lo-01")[1],
        }
        yield Api(client, ctx, tokens, world, home)


@pytest.fixture
def register(hooks: Api) -> Iterator[Callable[..., str]]:
    """Registers webhooks as the admin; removes them after the test."""
    made: list[str] = []

    def add(url: str, events: list[str] | None = None, secret: str | None = SECRET) -> str:
        body: dict[str, Any] = {"url": url, "events": events}
        if secret is not None:
            body["secret"] = secret
        answer = hooks.post("/v1/webhooks", "admin", json=body)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["webhook"]["id"])
        return str(made[-1])

    yield add
    for webhook_id in made:
        hooks.delete(f"/v1/webhooks/{webhook_id}", "admin")


def deliverer(api: Api, clock: Clock | None = None, **config: Any) -> WebhookDeliverer:
    options = {**CONFIG.__dict__, **config}
    return WebhookDeliverer(
        api.ctx.webhooks, WebhookConfig(**options), clock=clock or Clock(), rng=None
    )


def tag() -> str:
    return secrets.token_hex(3).upper()


def post_leads(api: Api, *leads: dict[str, Any]) -> None:
    answer = api.post("/v1/leads", "crm", json={"leads": list(leads)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(leads), answer.text


def post_events(api: Api, *events: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/v1/events", "crm", json={"events": list(events)})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def deliveries(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/webhooks/{webhook_id}/deliveries", "admin")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def sent_events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


def verify_function() -> Callable[..., bool]:
    """The README's verification snippet, run as written."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Webhooks") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    code = next(b for b in blocks if "def verify_leadscore_signature" in b)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the documented snippet itself is under test
    function: Callable[..., bool] = namespace["verify_leadscore_signature"]
    return function


# -- signatures --------------------------------------------------------------------------------


def test_a_delivery_verifies_with_the_readme_snippet_and_a_forgery_does_not(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    register(receiver.url, ["lead.new_in_speed_lane"])
    lead_id = f"WH-SIG-{tag()}"
    post_leads(hooks, new_lead(lead_id))
    result = deliverer(hooks, clock=lambda: datetime.now(UTC)).deliver_due()
    assert result.delivered == 1, result
    (request,) = receiver.received
    headers = httpx.Headers(request.headers)
    verify = verify_function()
    assert verify(SECRET, headers, request.body)
    assert not verify("another-secret-0123456789", headers, request.body)
    assert not verify(SECRET, headers, request.body.replace(lead_id.encode(), b"WH-OTHER"))
    old = str(int(headers["Leadscore-Timestamp"]) - 3600)
    stale = httpx.Headers({**headers, "Leadscore-Timestamp": old})
    assert not verify(SECRET, stale, request.body)
    assert headers["Content-Type"] == "application/json"
    assert headers["Leadscore-Event"] == "lead.new_in_speed_lane"
    assert headers["Idempotency-Key"] == json.loads(request.body)["id"]


# -- each event from its cause -------------------------------------------------------------------


def test_a_new_lead_that_may_be_called_fires_new_in_speed_lane_once(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    register(receiver.url, ["lead.new_in_speed_lane"])
    first, silent = f"WH-NEW-{tag()}", f"WH-NOCONSENT-{tag()}"
    post_leads(hooks, new_lead(first), new_lead(silent, consent_call=False, consent_text=False))
    post_leads(hooks, new_lead(first, loan_amount_usd=410_000))  # an update: not new
    deliverer(hooks).deliver_due()
    (sent,) = sent_events(receiver)
    assert sent["type"] == "lead.new_in_speed_lane"
    assert set(sent) == {"id", "type", "occurred_at", "data"}
    assert sent["data"]["lead_id"] == first
    assert set(sent["data"]) == {"lead_id", "officer_id", "lead_created_at", "source"}
    assert sent["data"]["officer_id"] == "lo-01"


def test_opt_outs_dnc_revocations_and_asked_to_stop_fire_opted_out(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    register(receiver.url, ["lead.opted_out"])
    leads = [f"WH-OUT{i}-{tag()}" for i in range(4)]
    post_leads(hooks, *(new_lead(i) for i in leads))
    post_events(
        hooks,
        event(f"{leads[0]}-E", leads[0], "opt_out", channel="text"),
        event(f"{leads[1]}-E", leads[1], "consent_revoked", channel="email"),
        event(f"{leads[2]}-E", leads[2], "dnc_request"),
        event(f"{leads[0]}-V", leads[0], "web_visit", page="/rates"),  # no opt-out
    )
    asked = hooks.post(
        f"/v1/leads/{leads[3]}/outcomes",
        "officer",
        json={"event_type": "call", "call_outcome": "asked_to_stop", "event_id": f"{leads[3]}-C"},
    )
    assert asked.status_code == 200, asked.text
    deliverer(hooks).deliver_due()
    by_lead = {e["data"]["lead_id"]: e["data"] for e in sent_events(receiver)}
    assert set(by_lead) == set(leads)
    assert (by_lead[leads[0]]["reason"], by_lead[leads[0]]["channels"]) == ("opt_out", ["text"])
    assert by_lead[leads[1]]["reason"] == "consent_revoked"
    assert by_lead[leads[1]]["channels"] == ["email"]
    assert by_lead[leads[2]]["channels"] == ["call", "text"]
    assert by_lead[leads[3]]["reason"] == "asked_to_stop"
    assert by_lead[leads[3]]["crm_event_id"] == f"{leads[3]}-C"
    # the CRM retrying the same opt-out is a duplicate event: nothing new is sent
    post_events(hooks, event(f"{leads[0]}-E", leads[0], "opt_out", channel="text"))
    assert deliverer(hooks).deliver_due().claimed == 0


def test_inbound_activity_fires_the_trigger_once_per_window(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    register(receiver.url, ["trigger.fired"])
    warm, late, quiet = (f"WH-TRG{i}-{tag()}" for i in range(3))
    now = datetime.now(UTC)
    post_leads(
        hooks,
        *(
            new_lead(i, created_at=(now - timedelta(hours=5)).isoformat())
            for i in (warm, late, quiet)
        ),
    )
    post_events(
        hooks, event(f"{quiet}-OLD", quiet, "web_visit", occurred_at=now - timedelta(hours=2))
    )
    post_events(hooks, event(f"{warm}-1", warm, "web_visit", page="/rates"))
    post_events(hooks, event(f"{warm}-2", warm, "email_clicked", channel="email"))  # still on
    post_events(hooks, event(f"{late}-1", late, "web_visit", occurred_at=now - timedelta(hours=3)))
    post_events(hooks, event(f"{quiet}-NEW", quiet, "text_replied", channel="text"))
    deliverer(hooks).deliver_due()
    fired = {e["data"]["lead_id"]: e["data"] for e in sent_events(receiver)}
    assert set(fired) == {warm, quiet}  # late: its visit is older than the trigger's hour
    assert fired[warm]["trigger"] == "inbound_activity"
    assert fired[warm]["crm_event_id"] == f"{warm}-1"
    assert fired[quiet]["crm_event_type"] == "text_replied"


def test_a_lead_turning_hot_fires_once_per_crossing(
    hooks: Api, register: Callable[..., str]
) -> None:
    register("http://127.0.0.1:9/unused", ["lead.hot"])
    engine = hooks.ctx.event_log.engine
    lead = f"WH-HEAT-{tag()}"
    now = datetime.now(UTC)

    def seen(tier: str) -> int:
        return note_scores(
            engine, [ScoreSeen(lead, "lo-01", 0.5, tier)], model_version="7", now=now
        )

    assert [seen(t) for t in ("warm", "hot", "hot", "warm", "cold", "hot", "hot")] == [
        0,
        1,
        0,
        0,
        0,
        1,
        0,
    ]


def test_scores_and_ingestion_fire_lead_hot_for_leads_that_become_hot(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    register(receiver.url, ["lead.hot"])
    lead = f"WH-HOT-{tag()}"
    created = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    post_leads(
        hooks,
        new_lead(lead, loan_type="refinance", timeline_statement="in 3 months", created_at=created),
    )
    hot_before = hooks.post("/v1/score", "crm", json={"lead_ids": [lead]}).json()["scores"][0]
    assert hot_before["tier"] != "hot", "the fresh lead should start below hot"
    # a burst of visits and opens: the ingestion itself scores the lead, which crosses into hot
    burst = [event(f"{lead}-V{i}", lead, "web_visit", page="/apply") for i in range(8)]
    burst += [event(f"{lead}-O{i}", lead, "email_opened", channel="email") for i in range(6)]
    post_events(hooks, *burst)
    sender = deliverer(hooks)
    assert sender.deliver_due().delivered == 1, "no score was asked for: ingestion must fire it"
    (sent,) = sent_events(receiver)
    assert sent["type"] == "lead.hot"
    assert sent["data"]["lead_id"] == lead
    assert sent["data"]["tier"] == "hot"
    assert set(sent["data"]) == {"lead_id", "officer_id", "tier", "probability", "model_version"}
    # scored again, by the CRM and on the lead page: still hot, nothing new
    scored = hooks.post("/v1/score", "crm", json={"lead_ids": [lead]}).json()["scores"][0]
    assert scored["tier"] == "hot", scored
    hooks.get(f"/v1/leads/{lead}", "officer")
    assert sender.deliver_due().claimed == 0


def _outbox_size(conn: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(webhook_events_table)).scalar_one())


def test_the_outbox_is_written_in_the_batch_transaction(
    hooks: Api, register: Callable[..., str]
) -> None:
    register("http://127.0.0.1:9/unused", ["lead.new_in_speed_lane"])
    log = hooks.ctx.event_log
    with log.engine.connect() as conn:
        before = _outbox_size(conn)
    lead = f"WH-TXN-{tag()}"
    observer = IngestionWebhooks(datetime.now(UTC))

    def crash_after_outbox(conn: Any, *args: Any) -> None:
        observer(conn, *args)
        assert _outbox_size(conn) == before + 1  # written, inside the transaction
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError, match="crash before commit"):
        ingest_records(
            log, "leads", [new_lead(lead)], now=datetime.now(UTC), observer=crash_after_outbox
        )
    with log.engine.connect() as conn:
        assert _outbox_size(conn) == before
    assert log.lead_created_at([lead]).empty
    post_leads(hooks, new_lead(lead))
    with log.engine.connect() as conn:
        assert _outbox_size(conn) == before + 1


# -- retries -----------------------------------------------------------------------------------


def _due(api: Api, webhook_id: str) -> datetime | None:
    (delivery,) = deliveries(api, webhook_id)
    due = delivery["next_attempt_at"]
    return None if due is None else datetime.fromisoformat(due)


def test_a_receiver_failing_n_times_gets_n_plus_one_attempts_with_growing_waits(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    failures = 3
    receiver.reset(script=[500, 503, 500])
    webhook_id = register(receiver.url, ["lead.new_in_speed_lane"])
    post_leads(hooks, new_lead(f"WH-RETRY-{tag()}"))
    clock = Clock()
    sender = deliverer(hooks, clock)
    waits: list[float] = []
    assert sender.deliver_due().retrying == 1
    for _ in range(failures):
        due = _due(hooks, webhook_id)
        assert due is not None
        waits.append((due - clock.now).total_seconds())
        clock.now = due - timedelta(seconds=1)
        assert sender.deliver_due().claimed == 0, "sent before its retry time"
        clock.now = due
        sender.deliver_due()
    (delivery,) = deliveries(hooks, webhook_id)
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == failures + 1
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 500, 200]
    assert len(receiver.received) == failures + 1
    assert waits == sorted(waits), waits
    assert waits[0] < waits[-1], waits
    for k, wait in enumerate(waits, start=1):
        ceiling = BASE_S * 2 ** (k - 1)
        assert ceiling / 2 <= wait <= ceiling, (k, wait)
    keys = {r.headers["Idempotency-Key"] for r in receiver.received}
    bodies = {r.body for r in receiver.received}
    assert len(keys) == 1, "the idempotency key must not change on a retry"
    assert len(bodies) == 1, "the body must not change on a retry"
    assert [r.headers["Leadscore-Attempt"] for r in receiver.received] == ["1", "2", "3", "4"]


def test_retries_stop_at_the_maximum_and_the_delivery_is_marked_failed(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    receiver.reset(then=500)
    webhook_id = register(receiver.url, ["lead.new_in_speed_lane"])
    refused = register("http://127.0.0.1:9/closed-port", ["lead.new_in_speed_lane"])
    post_leads(hooks, new_lead(f"WH-FAIL-{tag()}"))
    clock = Clock()
    sender = deliverer(hooks, clock)
    for _ in range(MAX_ATTEMPTS + 3):
        sender.deliver_due()
        clock.now += timedelta(hours=2)  # past any wait
    assert len(receiver.received) == MAX_ATTEMPTS
    for hook, error in ((webhook_id, "HTTP 500"), (refused, "connection failed")):
        (delivery,) = deliveries(hooks, hook)
        assert delivery["status"] == "failed"
        assert delivery["attempts"] == MAX_ATTEMPTS
        assert delivery["last_error"] == error
        assert delivery["attempt_log"][-1]["retry_at"] is None
    failed = hooks.get(f"/v1/webhooks/{webhook_id}/deliveries?status=failed", "admin").json()
    assert len(failed) == 1


def test_a_removed_webhook_gets_no_more_deliveries(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    receiver.reset(script=[500])
    webhook_id = register(receiver.url, ["lead.new_in_speed_lane"])
    post_leads(hooks, new_lead(f"WH-DEL-{tag()}"))
    clock = Clock()
    sender = deliverer(hooks, clock)
    assert sender.deliver_due().retrying == 1
    removed = hooks.delete(f"/v1/webhooks/{webhook_id}", "admin")
    assert removed.status_code == 200, removed.text
    assert removed.json()["cancelled_deliveries"] == 1
    post_leads(hooks, new_lead(f"WH-DEL2-{tag()}"))
    clock.now += timedelta(days=1)
    assert sender.deliver_due().claimed == 0
    assert len(receiver.received) == 1
    (delivery,) = deliveries(hooks, webhook_id)  # the log outlives the webhook
    assert delivery["status"] == "cancelled"
    listed = [w["id"] for w in hooks.get("/v1/webhooks", "admin").json()]
    assert webhook_id not in listed
    assert hooks.delete(f"/v1/webhooks/{webhook_id}", "admin").status_code == 404


# -- several workers -----------------------------------------------------------------------------


def test_two_workers_send_each_delivery_once_and_a_lapsed_lease_is_taken_over(
    hooks: Api, register: Callable[..., str], receiver: Receiver
) -> None:
    webhook_id = register(receiver.url, ["lead.new_in_speed_lane"])
    post_leads(hooks, *(new_lead(f"WH-PAR{i}-{tag()}") for i in range(30)))
    url = hooks.ctx.config.event_log_url
    workers = [WebhookStore(EventLog(url).engine) for _ in range(2)]  # as two processes
    senders = [
        WebhookDeliverer(store, WebhookConfig(**{**CONFIG.__dict__, "batch_size": 4}))
        for store in workers
    ]

    def drain(sender: WebhookDeliverer) -> None:
        while sender.deliver_due().claimed:
            pass

    threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    log = deliveries(hooks, webhook_id)
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 1)] * 30
    keys = [r.headers["Idempotency-Key"] for r in receiver.received]
    assert sorted(keys) == sorted(d["event_id"] for d in log), "each delivery sent once"

    # a worker that claims and dies: the delivery waits for its lease, then another sends it
    receiver.reset()
    post_leads(hooks, new_lead(f"WH-LEASE-{tag()}"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    (claim,) = workers[0].claim("dead-worker", now=now, lease_s=60, limit=10)
    survivor = deliverer(hooks, Clock(now + timedelta(seconds=30)))
    assert survivor.deliver_due().claimed == 0
    survivor.clock = Clock(now + timedelta(seconds=61))
    assert survivor.deliver_due().delivered == 1
    assert receiver.received[0].headers["Idempotency-Key"] == claim.event_id


def test_the_server_worker_delivers_and_retries_on_its_own(
    world: World, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.reset(script=[503])
    fast = WebhookConfig(backoff_base_s=0.05, backoff_max_s=0.1, poll_s=0.05)
    app = create_app(serving_config(world, tmp_path, webhooks=fast))
    with TestClient(app) as client:
        ctx: ServingContext = app.state.ctx
        admin = {"Authorization": f"Bearer {ctx.users.add('admin-w', 'admin')[1]}"}
        crm = {"Authorization": f"Bearer {ctx.users.add('crm-w', 'crm')[1]}"}
        made = client.post("/v1/webhooks", headers=admin, json={"url": receiver.url})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret.startswith("whsec_")
        answer = client.post("/v1/leads", headers=crm, json={"leads": [new_lead("WH-SERVER-1")]})
        assert answer.status_code == 200
        first, second = receiver.wait_for(2)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert verify_function()(secret, httpx.Headers(second.headers), second.body)


# -- registration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"url": "ftp://crm.example.com/hooks"}, "url"),
        ({"url": "crm.example.com/hooks"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://user:pw@crm.example.com/hooks"}, "url"),
        ({"url": "https://crm.example.com:99999/hooks"}, "url"),
        ({"url": "https://crm.example.com/hooks", "events": ["lead.cold"]}, "events"),
        ({"url": "https://crm.example.com/hooks", "events": []}, "events"),
        ({"url": "https://crm.example.com/hooks", "secret": "short"}, "secret"),
        ({"url": "https://crm.example.com/hooks", "colour": "red"}, "colour"),
    ],
)
def test_bad_registrations_answer_422_naming_the_field(
    hooks: Api, body: dict[str, Any], field_name: str
) -> None:
    answer = hooks.post("/v1/webhooks", "admin", json=body)
    assert answer.status_code == 422, answer.text
    assert field_name in [str(part) for e in answer.json()["detail"] for part in e["loc"]]
    if "secret" in body:
        assert body["secret"] not in answer.text


def test_the_secret_is_shown_once_and_never_read_back(
    hooks: Api, register: Callable[..., str], log_lines: io.StringIO
) -> None:
    made = hooks.post("/v1/webhooks", "admin", json={"url": "http://127.0.0.1:9/hooks"})
    assert made.status_code == 201
    generated = made.json()["secret"]
    webhook_id = made.json()["webhook"]["id"]
    given = register("http://127.0.0.1:9/other")
    answers = [
        hooks.get("/v1/webhooks", "admin").text,
        hooks.get(f"/v1/webhooks/{webhook_id}/deliveries", "admin").text,
        hooks.post(
            "/v1/webhooks", "admin", json={"url": "http://127.0.0.1:9/x", "secret": SECRET}
        ).text,
        hooks.delete(f"/v1/webhooks/{webhook_id}", "admin").text,
    ]
    for secret in (generated, SECRET):
        assert all(secret not in text for text in answers)
        assert secret not in log_lines.getvalue()
    listed = {w["id"]: w for w in hooks.get("/v1/webhooks", "admin").json()}
    assert listed[given]["events"] == [
        "lead.hot",
        "trigger.fired",
        "lead.new_in_speed_lane",
        "lead.opted_out",
    ]
    for other in listed:
        if other != given:
            hooks.delete(f"/v1/webhooks/{other}", "admin")


@pytest.mark.parametrize("role", ["crm", "officer"])
def test_only_admins_manage_webhooks(hooks: Api, role: str) -> None:
    calls = [
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/hooks"}),
        ("GET", "/v1/webhooks", None),
        ("DELETE", "/v1/webhooks/wh_0000000000000000", None),
        ("GET", "/v1/webhooks/wh_0000000000000000/deliveries", None),
    ]
    for method, path, body in calls:
        answer = hooks.client.request(method, path, headers=hooks.headers(role), json=body)
        assert answer.status_code == 403, (method, path, answer.text)


# -- personal data -------------------------------------------------------------------------------


def test_no_personal_data_reaches_a_payload_a_header_or_a_log(
    hooks: Api, register: Callable[..., str], receiver: Receiver, log_lines: io.StringIO
) -> None:
    register(receiver.url)
    mark = secrets.token_hex(4)
    markers = {
        "first_name": f"Canaryfirst{mark}",
        "last_name": f"Canarylast{mark}",
        "phone": f"+1415555{secrets.randbelow(10_000):04d}",
        "email": f"canary.{mark}@example.com",
    }
    free_text = f"canarytext{mark}"
    lead = f"WH-PII-{tag()}"
    post_leads(hooks, new_lead(lead, **markers))
    visits = [
        event(f"{lead}-V{i}", lead, "web_visit", page=f"/apply?{free_text}") for i in range(8)
    ]
    post_events(
        hooks,
        *visits,
        event(f"{lead}-Q", lead, "question_asked", question_topic="rates", text=free_text),
    )
    hooks.post("/v1/score", "crm", json={"lead_ids": [lead]})
    post_events(hooks, event(f"{lead}-X", lead, "opt_out", channel="text", text=free_text))
    deliverer(hooks, clock=lambda: datetime.now(UTC)).deliver_due()
    kinds = {e["type"] for e in sent_events(receiver)}
    assert {"lead.new_in_speed_lane", "trigger.fired", "lead.opted_out"} <= kinds
    seen = [r.body.decode() + json.dumps(r.headers) for r in receiver.received]
    seen.append(log_lines.getvalue())
    seen += [
        json.dumps(d)
        for w in hooks.get("/v1/webhooks", "admin").json()
        for d in deliveries(hooks, w["id"])
    ]
    for marker in [*markers.values(), free_text]:
        assert all(marker not in text for text in seen), marker
    assert SECRET not in log_lines.getvalue()
    ours = [line for line in log_lines.getvalue().splitlines() if '"logger": "leadscore' in line]
    assert any('"webhook delivered"' in line for line in ours)
    assert all(receiver.url not in line for line in ours)  # httpx's own INFO lines name it


# -- the command line ----------------------------------------------------------------------------


def test_the_webhooks_commands_add_list_deliver_show_the_log_and_remove(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    from typer.testing import CliRunner

    from leadscore.cli import app
    from serving.webhooks.store import EventType, enqueue, new_event

    shutil.copy(world.log_path, tmp_path / "leadscore.db")
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(app, ["webhooks", "add", receiver.url, "--events", "lead.opted_out"])
    assert added.exit_code == 0, added.output
    webhook_id, secret = added.stdout.split()
    assert secret.startswith("whsec_")
    own = runner.invoke(
        app,
        ["webhooks", "add", "https://crm.example.com/h", "--events", "lead.hot", "--secret-stdin"],
        input=SECRET,
    )
    assert own.exit_code == 0, own.output
    assert SECRET not in own.output
    bad = runner.invoke(app, ["webhooks", "add", "ftp://crm.example.com/h"])
    assert bad.exit_code == 2
    assert "http or https" in bad.output
    listed = runner.invoke(app, ["webhooks", "list"])
    assert webhook_id in listed.stdout
    assert secret not in listed.stdout

    store = WebhookStore(EventLog(f"sqlite:///{tmp_path / 'leadscore.db'}").engine)
    with store.engine.begin() as conn:
        data = {"lead_id": "L01", "reason": "opt_out", "channels": ["text"]}
        enqueue(
            conn,
            [new_event(EventType.OPTED_OUT, "L01", datetime.now(UTC), data)],
            datetime.now(UTC),
        )
    sent = runner.invoke(app, ["webhooks", "deliver"])
    assert sent.exit_code == 0, sent.output
    assert "1 sent: 1 delivered" in sent.stdout
    assert verify_function()(
        secret, httpx.Headers(receiver.received[0].headers), receiver.received[0].body
    )
    log = runner.invoke(app, ["webhooks", "deliveries", webhook_id, "--json"])
    (row,) = [json.loads(line) for line in log.stdout.splitlines()]
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)
    assert runner.invoke(app, ["webhooks", "remove", webhook_id]).exit_code == 0
    assert runner.invoke(app, ["webhooks", "remove", webhook_id]).exit_code == 2
    assert webhook_id not in runner.invoke(app, ["webhooks", "list"]).stdout
