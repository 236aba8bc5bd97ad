"""Mass assignment: a body carrying fields its route does not take (an id, a role, a stored
column, another officer or lead) answers 422 naming the field, and nothing of it is stored; a
page form's extra fields are ignored, never assigned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_world import Api, event, new_lead
from sqlalchemy import func, select

from features.event_log import events_table, leads_table
from serving.audit import audit_table
from serving.auth import users_table
from serving.web.session import SESSION_COOKIE, csrf_for


def _rows(api: Api, table: Any) -> int:
    with api.ctx.event_log.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _snapshot(api: Api) -> dict[str, Any]:
    """Everything a request could write: rows of each table, and the served model."""
    current = api.ctx.model.current
    tables = {"users": users_table, "leads": leads_table, "events": events_table}
    return {
        **{name: _rows(api, table) for name, table in tables.items()},
        "audit": _rows(api, audit_table),
        "model": None if current is None else current.version,
    }


@dataclass(frozen=True)
class Smuggle:
    who: str
    path: str
    body: Callable[[], dict[str, Any]]
    field: list[Any]
    """The 422's loc: the field named in the answer."""


CASES = {
    "user picks its own token": Smuggle(
        "admin",
        "/v1/users",
        lambda: {"name": "mallory-1", "role": "crm", "token": "ls_chosen-by-mallory"},
        ["body", "token"],
    ),
    "user sets its id and revocation": Smuggle(
        "admin",
        "/v1/users",
        lambda: {"name": "mallory-2", "role": "crm", "id": 1, "revoked_at": None},
        ["body", "id"],
    ),
    "user with an unknown role": Smuggle(
        "admin", "/v1/users", lambda: {"name": "mallory-3", "role": "superuser"}, ["body", "role"]
    ),
    "crm user bound to an officer": Smuggle(
        "admin",
        "/v1/users",
        lambda: {"name": "mallory-4", "role": "crm", "officer_id": "lo-01"},
        ["body", "officer_id"],
    ),
    "lead with a role": Smuggle(
        "crm",
        "/v1/leads",
        lambda: {"leads": [{**new_lead("MA-1"), "role": "admin"}]},
        ["body", "leads", 0, "role"],
    ),
    "lead with its score and update time": Smuggle(
        "crm",
        "/v1/leads",
        lambda: {"leads": [new_lead("MA-2"), {**new_lead("MA-3"), "updated_at": "2020-01-01"}]},
        ["body", "leads", 1, "updated_at"],
    ),
    "event with its sequence number": Smuggle(
        "crm",
        "/v1/events",
        lambda: {
            "events": [
                event("MA-E1", "L13", "web_visit"),
                {**event("MA-E2", "L13", "web_visit"), "seq": 1},
            ]
        },
        ["body", "events", 1, "seq"],
    ),
    "event with its ingestion time": Smuggle(
        "crm",
        "/v1/events",
        lambda: {"events": [{**event("MA-E3", "L13", "web_visit"), "ingested_at": "2020-01-01"}]},
        ["body", "events", 0, "ingested_at"],
    ),
    "outcome for another lead": Smuggle(
        "officer",
        "/v1/leads/L13/outcomes",
        lambda: {"event_type": "email_sent", "channel": "email", "lead_id": "M01"},
        ["body", "lead_id"],
    ),
    "outcome as another officer": Smuggle(
        "officer",
        "/v1/leads/L13/outcomes",
        lambda: {"event_type": "email_sent", "channel": "email", "officer_id": "lo-02"},
        ["body", "officer_id"],
    ),
    "score as another officer": Smuggle(
        "officer",
        "/v1/score",
        lambda: {"lead_ids": ["L01"], "officer_id": "lo-02"},
        ["body", "officer_id"],
    ),
    "reload that also promotes": Smuggle(
        "admin",
        "/v1/model/reload",
        lambda: {"version": "2", "promote": True},
        ["body", "promote"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_smuggled_field_answers_422_and_nothing_is_stored(api: Api, name: str) -> None:
    case = CASES[name]
    before = _snapshot(api)
    response = api.post(case.path, case.who, json=case.body())
    assert response.status_code == 422, response.text[:300]
    assert case.field in [e["loc"] for e in response.json()["detail"]]
    assert _snapshot(api) == before


def test_the_same_bodies_without_the_smuggled_field_are_taken(api: Api) -> None:
    """The 422s come from the extra field alone."""
    created = api.post("/v1/users", "admin", json={"name": "mallory-ok", "role": "crm"})
    assert created.status_code == 201
    assert api.ctx.users.get("mallory-ok") is not None
    lead = api.post("/v1/leads", "crm", json={"leads": [new_lead("MA-OK")]})
    assert lead.json()["accepted"] == 1
    visit = api.post("/v1/events", "crm", json={"events": [event("MA-OK-E", "L13", "web_visit")]})
    assert visit.json()["accepted"] == 1


def test_a_page_forms_extra_fields_are_ignored_not_assigned(api: Api) -> None:
    token = api.tokens["officer"]
    api.client.cookies.set(SESSION_COOKIE, token)
    try:
        response = api.client.post(
            "/leads/L14/outcomes",
            data={
                "outcome": "no_answer",
                "csrf": csrf_for(token),
                "event_id": "MA-PAGE-1",
                "lead_id": "M01",
                "officer_id": "lo-02",
                "role": "admin",
            },
            follow_redirects=False,
        )
    finally:
        api.client.cookies.clear()
    assert response.status_code == 303
    stored = api.ctx.event_log.events(lead_ids=["L14", "M01"])
    assert stored.loc[stored["event_id"] == "MA-PAGE-1", "lead_id"].tolist() == ["L14"]
    assert api.ctx.users.get("ana") is not None
    assert str(api.ctx.users.get("ana").role) == "officer"  # type: ignore[union-attr]
