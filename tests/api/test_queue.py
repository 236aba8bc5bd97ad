"""The daily queue over HTTP: eligibility from the event log at once, lanes, capacity, reasons,
how `date` and `at` combine, and the audit trail of what was served."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_world import Api, event, queue_at

from features.definitions import FEATURE_NAMES


def _queue(api: Api, who: str = "officer", **params: str) -> dict[str, Any]:
    response = api.get("/v1/queue", who, params={"at": queue_at().isoformat(), **params})
    assert response.status_code == 200, response.text[:300]
    body: dict[str, Any] = response.json()
    return body


def _held(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["lead_id"]: h for h in body["held_back"]}


def _shown(body: dict[str, Any]) -> list[str]:
    return [i["lead_id"] for i in body["items"]]


def test_the_queue_ranks_eligible_leads_with_reasons_and_holds_back_the_rest(api: Api) -> None:
    body = _queue(api)
    assert body["model_version"] == "lead-scorer/1"
    assert body["items"][0]["lead_id"] == "L12"  # never contacted: speed to lead first
    assert body["items"][0]["lane"] == "new"
    assert [i["rank"] for i in body["items"]] == list(range(1, len(body["items"]) + 1))
    for item in body["items"]:
        assert item["reasons"]["up"] or item["reasons"]["down"]
        for reason in item["reasons"]["up"]:
            assert reason["shap_log_odds"] > 0
            assert reason["feature"] in FEATURE_NAMES
            assert reason["text"]
        for reason in item["reasons"]["down"]:
            assert reason["shap_log_odds"] < 0
    held = _held(body)
    assert held["L06"]["rule"] == "unknown_time_zone"  # TX spans two zones, none on file
    assert held["L08"]["rule"] == "no_consent"
    assert set(_shown(body)).isdisjoint(held)
    assert len(body["items"]) + len(held) == body["n_candidates"]


def test_a_dnc_request_and_a_consent_revocation_hold_leads_back_at_once(api: Api) -> None:
    before = _shown(_queue(api))
    assert {"L09", "L05"} <= set(before)
    events = [
        event("DNC-L09", "L09", "dnc_request"),
        event("REVOKE-L05", "L05", "consent_revoked", channel="call"),
    ]
    assert api.post("/v1/events", "crm", json={"events": events}).status_code == 200
    after = _queue(api)
    held = _held(after)
    assert held["L09"]["rule"] in ("dnc", "opted_out")
    assert held["L05"]["rule"] == "no_consent"  # OK lead without text consent either


def _three_calls(api: Api, lead_id: str) -> None:
    now = datetime.now(UTC)
    calls = [
        event(
            f"CAP-{lead_id}-{k}",
            lead_id,
            "call",
            call_outcome="no_answer",
            occurred_at=now - timedelta(minutes=10 - k),
        )
        for k in range(3)
    ]
    assert api.post("/v1/events", "crm", json={"events": calls}).status_code == 200


def test_a_florida_lead_called_three_times_is_texted_instead(api: Api) -> None:
    assert "L15" in _shown(_queue(api))
    _three_calls(api, "L15")
    item = next(i for i in _queue(api)["items"] if i["lead_id"] == "L15")
    assert item["channel"] == "text"  # Florida caps calls, not texts; the lead consented to texts


def test_a_maryland_lead_contacted_three_times_waits_for_its_cap(api: Api) -> None:
    assert "L04" in _shown(_queue(api))
    _three_calls(api, "L04")
    held = _held(_queue(api))
    assert held["L04"]["rule"] == "state_cap_reached"  # Maryland caps calls and texts together
    assert "MD cap reached" in held["L04"]["reason"]
    assert held["L04"]["next_allowed_utc"] is not None


def test_capacity_cuts_the_queue_and_calls_made_today_use_it_up(api: Api) -> None:
    api.ctx.users.set_capacity("lo-02", 2)
    try:
        body = _queue(api, who="officer2")
        assert body["capacity"] == 2
        assert len(body["items"]) == body["capacity_left"] <= 2
        assert body["n_beyond_capacity"] == body["n_eligible"] - len(body["items"])
        assert body["n_beyond_capacity"] > 0
    finally:
        api.ctx.users.set_capacity("lo-02", 40)


def test_date_and_at_must_agree_and_at_needs_an_offset(api: Api) -> None:
    at = queue_at()
    wrong_day = (at - timedelta(days=3)).date().isoformat()
    clash = api.get("/v1/queue", "officer", params={"at": at.isoformat(), "date": wrong_day})
    assert clash.status_code == 422
    assert clash.json()["detail"][0]["loc"] == ["query", "date"]
    naive = api.get("/v1/queue", "officer", params={"at": "2030-01-02T15:00:00"})
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["query", "at"]


def test_another_date_is_built_at_noon_in_the_workday_zone(api: Api) -> None:
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    body = api.get("/v1/queue", "officer", params={"date": day.isoformat()}).json()
    assert body["date"] == day.isoformat()
    built = datetime.fromisoformat(body["at"])
    local = built.astimezone(__import__("zoneinfo").ZoneInfo(body["workday_time_zone"]))
    assert (local.date(), local.hour, local.minute) == (day, 12, 0)


def test_every_queue_position_and_hold_is_audited_with_the_model_version(api: Api) -> None:
    body = _queue(api)
    rows = api.ctx.audit.read(limit=10_000)
    request_id = rows[0]["request_id"]
    served = [r for r in rows if r["request_id"] == request_id]
    items = {r["lead_id"]: r for r in served if r["action"] == "queue_item"}
    holds = {r["lead_id"]: r for r in served if r["action"] == "queue_held_back"}
    assert set(items) == set(_shown(body))
    assert set(holds) == set(_held(body))
    first = body["items"][0]
    row = items[first["lead_id"]]
    assert (row["rank"], row["lane"], row["model_version"], row["actor"]) == (
        1,
        first["lane"],
        body["model_version"],
        "ana",
    )
    assert row["reasons"]
    assert row["decision"]["window_closes_local"] == first["window_closes_local"]
    assert all(r["rule"] == _held(body)[lead]["rule"] for lead, r in holds.items())
