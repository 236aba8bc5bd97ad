"""Built queues are reused while nothing they depend on changed, and never after: an event for
one of the officer's leads, a lead record written, another minute, another capacity or model
rebuilds the queue; each request is audited whether its queue was built or reused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api_world import Api, event, new_lead, queue_at
from sqlalchemy import func, select

from serving.audit import audit_table


def _queue(api: Api, at: str, who: str = "officer", **params: str) -> tuple[dict[str, Any], bool]:
    """The queue and whether it was reused (Server-Timing names the phase)."""
    response = api.get("/v1/queue", who, params={"at": at, **params})
    assert response.status_code == 200, response.text[:300]
    return response.json(), "cached;" in response.headers["server-timing"]


def _shown(body: dict[str, Any]) -> list[str]:
    return [i["lead_id"] for i in body["items"]]


def _audited(api: Api) -> int:
    with api.ctx.event_log.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_table)).scalar_one())


def test_a_second_identical_request_reuses_the_queue_and_is_audited_too(api: Api) -> None:
    at = queue_at().isoformat()
    before = _audited(api)
    first, reused = _queue(api, at)
    assert not reused
    built = _audited(api) - before
    assert built >= len(first["items"])
    again, reused = _queue(api, at)
    assert reused
    assert again == first
    assert _audited(api) == before + 2 * built  # audited as when it was built
    _, reused = _queue(api, (queue_at() + timedelta(minutes=1)).isoformat())
    assert not reused  # another minute: calling windows may have moved


def test_a_do_not_call_request_holds_the_lead_back_in_the_very_next_queue(api: Api) -> None:
    at = queue_at().isoformat()
    body, _ = _queue(api, at)
    _queue(api, at)
    lead = _shown(body)[-1]
    stop = event(f"CACHE-DNC-{lead}", lead, "dnc_request")  # every channel
    answer = api.post("/v1/events", "crm", json={"events": [stop]})
    assert answer.json()["items"][0]["status"] == "accepted", answer.text
    after, reused = _queue(api, at)
    assert not reused
    assert lead not in _shown(after)
    assert lead in {h["lead_id"] for h in after["held_back"]}


def test_a_lead_record_written_rebuilds_the_queue(api: Api) -> None:
    at = queue_at().isoformat()
    _queue(api, at)
    _, reused = _queue(api, at)
    assert reused
    added = api.post("/v1/leads", "crm", json={"leads": [new_lead("CACHE-NEW", "lo-01")]})
    assert added.json()["accepted"] == 1
    after, reused = _queue(api, at)
    assert not reused
    assert "CACHE-NEW" in _shown(after) + [h["lead_id"] for h in after["held_back"]]


def test_another_officers_event_keeps_the_queue_and_a_call_of_ours_rebuilds_it(api: Api) -> None:
    at = queue_at().isoformat()
    mine, _ = _queue(api, at)
    theirs, _ = _queue(api, at, "crm", officer="lo-02")
    other_lead = (_shown(theirs) + [h["lead_id"] for h in theirs["held_back"]])[0]
    visit = event("CACHE-THEIRS", other_lead, "web_visit", page="/rates")
    assert api.post("/v1/events", "crm", json={"events": [visit]}).status_code == 200
    _, reused = _queue(api, at)
    assert reused  # nothing of lo-01's changed
    call = event("CACHE-CALL", _shown(mine)[0], "call", channel="call", call_outcome="no_answer")
    assert api.post("/v1/events", "crm", json={"events": [call]}).status_code == 200
    after, reused = _queue(api, at)
    assert not reused
    assert after["calls_made_today"] == mine["calls_made_today"] + 1
