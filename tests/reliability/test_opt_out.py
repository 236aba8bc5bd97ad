"""Opt-outs hold at once: once the answer acknowledges an opt-out or a do-not-call request,
however it came in (a CRM event, the outcome route, the officer's page), no queue served
afterwards lists the lead, today's or a later day's, and none is audited as listing it.
(Across two workers: tests/integration/test_production_profile.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_world import Api, event, queue_at

from serving.web.session import SESSION_COOKIE, csrf_for


def _by_crm_event(api: Api, lead: str) -> bool:
    opt_out = event(f"OPT-{lead}", lead, "opt_out", channel="call")
    answer = api.post("/v1/events", "crm", json={"events": [opt_out]})
    return bool(answer.json()["items"][0]["status"] == "accepted")


def _by_dnc_request(api: Api, lead: str) -> bool:
    answer = api.post(
        "/v1/events", "crm", json={"events": [event(f"DNC-{lead}", lead, "dnc_request")]}
    )
    return bool(answer.json()["items"][0]["status"] == "accepted")


def _by_outcome_route(api: Api, lead: str) -> bool:
    body = {"event_type": "call", "call_outcome": "asked_to_stop"}
    answer = api.post(f"/v1/leads/{lead}/outcomes", "officer", json=body)
    return bool(answer.json()["status"] == "accepted")


def _by_officers_page(api: Api, lead: str) -> bool:
    token = api.tokens["officer"]
    api.client.cookies.set(SESSION_COOKIE, token)
    try:
        answer = api.client.post(
            f"/leads/{lead}/outcomes",
            data={"outcome": "asked_to_stop", "csrf": csrf_for(token)},
            follow_redirects=False,
        )
    finally:
        api.client.cookies.clear()
    return bool(answer.status_code == 303 and "logged=asked_to_stop" in answer.headers["location"])


WAYS: dict[str, tuple[str, Callable[[Api, str], bool]]] = {
    "crm opt-out event": ("L02", _by_crm_event),
    "crm do-not-call request": ("L09", _by_dnc_request),
    "officer's outcome route": ("L03", _by_outcome_route),
    "officer's page": ("L15", _by_officers_page),
}


def _listed(api: Api, **params: str) -> tuple[list[str], dict[str, str]]:
    response = api.get("/v1/queue", "officer", params=params)
    assert response.status_code == 200, response.text[:300]
    body: dict[str, Any] = response.json()
    return [i["lead_id"] for i in body["items"]], {
        h["lead_id"]: h["rule"] for h in body["held_back"]
    }


@pytest.mark.parametrize("way", list(WAYS))
def test_no_queue_lists_a_lead_after_its_opt_out_is_acknowledged(api: Api, way: str) -> None:
    lead, opt_out = WAYS[way]
    at = queue_at()
    assert lead in _listed(api, at=at.isoformat())[0]  # callable before
    assert opt_out(api, lead)
    acknowledged = datetime.now(UTC)
    later_day = (at + timedelta(days=3)).date().isoformat()
    for params in ({"at": at.isoformat()}, {}, {"date": later_day}):
        shown, held = _listed(api, **params)
        assert lead not in shown, params
        assert held.get(lead) in ("opted_out", "dnc"), (params, held.get(lead))
    rows = api.ctx.audit.read(lead_id=lead, since=acknowledged, action="queue_item")
    assert rows == []
