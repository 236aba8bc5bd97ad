"""Cross-officer reads: every route and page that takes a lead answers another officer's lead
exactly as it answers a lead that does not exist (404), and leaks none of its data; nothing
is stored or audited for it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_world import Api, queue_at

from serving.web.session import SESSION_COOKIE, csrf_for

FOREIGN = ("M01", "M02", "M03", "M04")
"""lo-02's leads; every request below is made by lo-01's officer."""
UNKNOWN = "NOPE-1"
_VOLATILE = re.compile(r"[0-9a-f]{32}")
"""Request ids (and the hashes they resemble) differ per request."""


def _foreign_data(api: Api) -> dict[str, list[str]]:
    """What another officer's lead must never show: its name, phone, email and officer."""
    leads = api.ctx.event_log.leads(officer_id="lo-02").set_index("lead_id")
    return {
        lead: [str(leads.at[lead, c]) for c in ("last_name", "phone", "email", "officer_id")]
        for lead in FOREIGN
    }


def _api_call(api: Api, method: str, path: str, body: Any, lead: str) -> Any:
    payload = None if body is None else _with_lead(body, lead)
    return api.client.request(
        method, path.format(lead=lead), headers=api.headers("officer"), json=payload
    )


def _with_lead(body: dict[str, Any], lead: str) -> dict[str, Any]:
    return {k: [lead] if isinstance(v, list) else v for k, v in body.items()}


def _normalized(response: Any, lead: str) -> str:
    return _VOLATILE.sub("ID", str(response.text).replace(lead, "LEAD"))


def _same_answer(foreign: Any, unknown: Any, lead: str) -> None:
    assert foreign.status_code == unknown.status_code == 404
    assert _normalized(foreign, lead) == _normalized(unknown, UNKNOWN)


API_ROUTES = [
    ("GET", "/v1/leads/{lead}", None),
    ("GET", "/v1/leads/{lead}/explanation", None),
    ("POST", "/v1/leads/{lead}/outcomes", {"event_type": "email_sent", "channel": "email"}),
    ("POST", "/v1/score", {"lead_ids": ["{lead}"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), API_ROUTES)
@pytest.mark.parametrize("lead", FOREIGN)
def test_another_officers_lead_answers_like_an_unknown_lead(
    api: Api, method: str, path: str, body: dict[str, Any] | None, lead: str
) -> None:
    events_before = api.ctx.event_log.counts()["events"]
    foreign = _api_call(api, method, path, body, lead)
    unknown = _api_call(api, method, path, body, UNKNOWN)
    _same_answer(foreign, unknown, lead)
    for value in _foreign_data(api)[lead]:
        assert value not in foreign.text
    assert api.ctx.event_log.counts()["events"] == events_before  # no outcome was stored


@pytest.fixture
def signed_in(api: Api) -> Iterator[Any]:
    """The test client with lo-01's officer signed in to the pages."""
    api.client.cookies.set(SESSION_COOKIE, api.tokens["officer"])
    yield api.client
    api.client.cookies.clear()


@pytest.mark.parametrize("lead", FOREIGN)
def test_another_officers_lead_page_and_outcome_form_answer_not_found(
    api: Api, signed_in: Any, lead: str
) -> None:
    events_before = api.ctx.event_log.counts()["events"]
    form = {"outcome": "no_answer", "csrf": csrf_for(api.tokens["officer"])}
    answers = {
        "page": (signed_in.get(f"/leads/{lead}"), signed_in.get(f"/leads/{UNKNOWN}")),
        "outcome": (
            signed_in.post(f"/leads/{lead}/outcomes", data=form, follow_redirects=False),
            signed_in.post(f"/leads/{UNKNOWN}/outcomes", data=form, follow_redirects=False),
        ),
    }
    for name, (foreign, unknown) in answers.items():
        _same_answer(foreign, unknown, lead)
        for value in _foreign_data(api)[lead]:
            assert value not in foreign.text, name
    assert api.ctx.event_log.counts()["events"] == events_before


def test_the_queue_page_never_shows_another_officers_lead(api: Api, signed_in: Any) -> None:
    at = queue_at().isoformat()
    pages = [signed_in.get("/queue", params={"at": at, "lead": lead}) for lead in FOREIGN]
    assert all(p.status_code == 200 for p in pages)
    for lead, page in zip(FOREIGN, pages, strict=True):
        assert f"/leads/{lead}" not in page.text
        for value in _foreign_data(api)[lead]:
            assert value not in page.text


def test_nothing_about_another_officers_leads_reaches_the_officers_audit(api: Api) -> None:
    for lead in FOREIGN:
        for method, path, body in API_ROUTES:
            _api_call(api, method, path, body, lead)
    rows = api.ctx.audit.read(limit=100_000)
    assert [r for r in rows if r["actor"] == "ana" and r["lead_id"] in FOREIGN] == []


def test_a_score_batch_with_one_foreign_lead_names_only_that_lead(api: Api) -> None:
    response = api.post("/v1/score", "officer", json={"lead_ids": ["L01", "M02", "L02"]})
    assert response.status_code == 404
    assert "M02" in response.json()["detail"]
    assert "L01" not in response.json()["detail"]


def test_an_officer_sees_only_its_own_queue(api: Api) -> None:
    at = queue_at().isoformat()
    own = api.get("/v1/queue", "officer", params={"at": at})
    assert own.status_code == 200
    body = own.json()
    assert body["officer_id"] == "lo-01"
    shown = [i["lead_id"] for i in body["items"]] + [h["lead_id"] for h in body["held_back"]]
    own_leads = set(api.ctx.event_log.leads(officer_id="lo-01")["lead_id"])
    assert shown
    assert set(shown) <= own_leads
    other = api.get("/v1/queue", "officer", params={"officer": "lo-02", "at": at})
    nobody = api.get("/v1/queue", "officer", params={"officer": "lo-99", "at": at})
    assert other.status_code == nobody.status_code == 404
    assert other.json()["detail"].replace("lo-02", "X") == nobody.json()["detail"].replace(
        "lo-99", "X"
    )
    mine_by_name = api.get("/v1/queue", "officer", params={"officer": "lo-01", "at": at})
    assert mine_by_name.status_code == 200


def test_the_crm_may_read_any_officers_queue_but_must_name_it(api: Api) -> None:
    at = queue_at().isoformat()
    second = api.get("/v1/queue", "crm", params={"officer": "lo-02", "at": at})
    assert second.status_code == 200
    leads = [i["lead_id"] for i in second.json()["items"]]
    assert leads
    assert set(leads) <= set(api.ctx.event_log.leads(officer_id="lo-02")["lead_id"])
    unnamed = api.get("/v1/queue", "crm", params={"at": at})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["query", "officer"]
    unknown = api.get("/v1/queue", "crm", params={"officer": "lo-99", "at": at})
    assert unknown.status_code == 404
