"""Ingestion through the contracts: per-item results, idempotence, fresh features before the
answer, and personal data kept out of the answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api_world import PII_MARKERS, Api, event, new_lead, queue_at


def _statuses(response: Any) -> list[str]:
    assert response.status_code == 200, response.text[:300]
    return [item["status"] for item in response.json()["items"]]


def _feature(api: Api, lead_id: str, name: str) -> Any:
    body = api.get(f"/v1/leads/{lead_id}/explanation", "crm").json()
    return next(c["value"] for c in body["contributions"] if c["feature"] == name)


def test_each_event_is_accepted_duplicate_or_rejected_with_its_reason(api: Api) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    batch = [
        event("IN-1", "L14", "web_visit", page="/rates"),
        event("E0000", "L01", "lead_created"),  # stored when the world was built
        event("IN-2", "NO-SUCH-LEAD", "web_visit"),
        event("IN-3", "L14", "teleport"),
        event("IN-4", "L14", "web_visit", occurred_at=future),
        event("IN-5", "L14", "call"),  # a call needs its outcome
    ]
    batch.append(dict(batch[0]))  # the same record twice in one request
    response = api.post("/v1/events", "crm", json={"events": batch})
    body = response.json()
    assert _statuses(response) == [
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
    ]
    reasons = [" ".join(item["reasons"]) for item in body["items"]]
    assert "lead_exists" in reasons[2]
    assert "event_type" in reasons[3]
    assert "not_in_future" in reasons[4]
    assert "call_needs_outcome" in reasons[5]
    assert [body["accepted"], body["duplicates"], body["rejected"]] == [1, 2, 4]
    # L14's new visit, and L01 again: a retry re-pushes the lead of an already stored event
    assert body["refreshed_leads"] == 2


def test_an_event_answer_says_how_long_each_phase_took(api: Api) -> None:
    response = api.post(
        "/v1/events", "crm", json={"events": [event("TIMED-1", "L12", "web_visit", page="/")]}
    )
    assert _statuses(response) == ["accepted"]
    phases = dict(p.split(";dur=") for p in response.headers["Server-Timing"].split(", "))
    assert set(phases) == {"validate", "store", "refresh"}
    assert all(float(ms) >= 0 for ms in phases.values())


def test_api_ingestion_never_loads_great_expectations(tmp_path: Path) -> None:
    """GX costs ~0.3 s a call and seconds to import; the API checks records without it."""
    code = textwrap.dedent(
        f"""
        import sys
        from datetime import UTC, datetime
        from features.event_log import EventLog
        from serving.ingest import ingest_records

        log = EventLog("sqlite:///{tmp_path / "events.db"}")
        now = datetime.now(UTC)
        lead = {{
            "lead_id": "L1", "officer_id": "lo-01", "created_at": "2024-01-02T15:00:00Z",
            "first_name": "Ana", "last_name": "Example", "phone": "+15125550001",
            "email": "ana@example.com", "state": "TX", "source": "referral",
            "loan_type": "purchase", "loan_amount_usd": 320000.0, "quoted_rate_pct": 6.5,
            "consent_call": True, "consent_text": True, "consent_email": True,
        }}
        events = [
            {{"event_id": "E1", "lead_id": "L1", "occurred_at": "2024-02-01T10:00:00Z",
              "event_type": "web_visit"}},
            {{"event_id": "E2", "lead_id": "L404", "occurred_at": "2024-02-01T10:00:00Z",
              "event_type": "call"}},
        ]
        leads = ingest_records(log, "leads", [lead], now=now)
        stored = ingest_records(log, "events", events, now=now)
        print([i.status for i in leads.items + stored.items])
        print("great_expectations" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "['accepted', 'accepted', 'rejected']"
    assert out[1] == "False"


def test_sending_the_same_batch_twice_stores_it_once(api: Api) -> None:
    batch = [event(f"TWICE-{i}", "L13", "email_opened", channel="email") for i in range(3)]
    before = api.ctx.event_log.counts()["events"]
    first = api.post("/v1/events", "crm", json={"events": batch})
    second = api.post("/v1/events", "crm", json={"events": batch})
    assert _statuses(first) == ["accepted"] * 3
    assert _statuses(second) == ["duplicate"] * 3
    assert api.ctx.event_log.counts()["events"] == before + 3


def test_an_accepted_event_updates_the_leads_features_before_the_answer(api: Api) -> None:
    visits = _feature(api, "L09", "web_visits_1d")
    response = api.post(
        "/v1/events", "crm", json={"events": [event("FRESH-1", "L09", "web_visit", page="/x")]}
    )
    assert _statuses(response) == ["accepted"]
    assert _feature(api, "L09", "web_visits_1d") == visits + 1


def test_a_new_lead_is_created_then_updated_and_reaches_the_queue_as_new(api: Api) -> None:
    lead = new_lead("NEW-1", loan_amount_usd=300000)
    created = api.post("/v1/leads", "crm", json={"leads": [lead]})
    assert _statuses(created) == ["accepted"]
    assert created.json()["items"][0]["created"] is True
    updated = api.post("/v1/leads", "crm", json={"leads": [{**lead, "loan_amount_usd": 410000}]})
    assert updated.json()["items"][0]["created"] is False
    assert _feature(api, "NEW-1", "loan_amount_usd") == 410000
    queue = api.get("/v1/queue", "officer", params={"at": queue_at().isoformat()}).json()
    item = next(i for i in queue["items"] if i["lead_id"] == "NEW-1")
    assert item["lane"] == "new"


def test_a_rejected_lead_names_its_rules_but_never_its_personal_data(api: Api) -> None:
    bad = new_lead(
        "PII-BAD",
        first_name=PII_MARKERS[0],
        last_name=PII_MARKERS[1],
        phone="call " + PII_MARKERS[2],
        email="not-an-email " + PII_MARKERS[3],
        state="ZZ",
    )
    response = api.post("/v1/leads", "crm", json={"leads": [bad]})
    assert _statuses(response) == ["rejected"]
    reasons = " ".join(response.json()["items"][0]["reasons"])
    assert "phone" in reasons
    assert "email" in reasons
    assert "state" in reasons
    for marker in PII_MARKERS:
        assert marker not in response.text


def test_a_batch_over_the_limit_is_refused_whole(api: Api) -> None:
    batch = [event(f"BIG-{i}", "L13", "web_visit") for i in range(1001)]
    response = api.post("/v1/events", "crm", json={"events": batch})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events"]
    assert api.ctx.event_log.events(lead_ids=["L13"])["event_id"].str.startswith("BIG-").sum() == 0


def test_an_outcome_recorded_by_the_officer_is_an_event_and_is_idempotent(api: Api) -> None:
    outcome = {"event_type": "call", "call_outcome": "connected", "event_id": "OUT-1"}
    first = api.post("/v1/leads/L10/outcomes", "officer", json=outcome)
    again = api.post("/v1/leads/L10/outcomes", "officer", json=outcome)
    assert first.json()["status"] == "accepted"
    assert again.json()["status"] == "duplicate"
    stored = api.ctx.event_log.events(lead_ids=["L10"])
    assert (stored["event_id"] == "OUT-1").sum() == 1
    assert _feature(api, "L10", "last_call_outcome") == "connected"
    bad = api.post("/v1/leads/L10/outcomes", "officer", json={"event_type": "call"})
    assert bad.json()["status"] == "rejected"
    assert "call_needs_outcome" in " ".join(bad.json()["reasons"])
