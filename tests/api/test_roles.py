"""The role matrix: every route against every kind of caller, and officer isolation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_world import Api, event, new_lead, queue_at

ROLES = ("anonymous", "bad_token", "crm", "officer", "admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    expected: dict[str, int]
    body: Callable[[str], Any] | None = None
    params: Callable[[], dict[str, str]] | None = None
    setup: Callable[[Api, str], None] | None = None
    template: str | None = None
    """The OpenAPI path when `path` is a concrete one."""


def _statuses(crm: int, officer: int, admin: int, *, open_route: bool = False) -> dict[str, int]:
    if open_route:
        return dict.fromkeys(ROLES, 200)
    return {"anonymous": 401, "bad_token": 401, "crm": crm, "officer": officer, "admin": admin}


def _make_victim(api: Api, role: str) -> None:
    api.ctx.users.add(f"victim-{role}", "crm")


ROUTES = {
    "healthz": Route("GET", "/healthz", _statuses(0, 0, 0, open_route=True)),
    "readyz": Route("GET", "/readyz", _statuses(0, 0, 0, open_route=True)),
    "metrics": Route("GET", "/metrics", _statuses(0, 0, 0, open_route=True)),
    "openapi": Route("GET", "/openapi.json", _statuses(0, 0, 0, open_route=True)),
    "get_model": Route("GET", "/v1/model", _statuses(200, 200, 200)),
    "reload_model": Route("POST", "/v1/model/reload", _statuses(403, 403, 200), lambda _role: {}),
    "post_leads": Route(
        "POST",
        "/v1/leads",
        _statuses(200, 403, 403),
        lambda r: {"leads": [new_lead(f"RM-{r}")]},
    ),
    "post_events": Route(
        "POST",
        "/v1/events",
        _statuses(200, 403, 403),
        lambda r: {"events": [event(f"RM-{r}", "L13", "web_visit", page="/rates")]},
    ),
    "score": Route(
        "POST", "/v1/score", _statuses(200, 200, 403), lambda _role: {"lead_ids": ["L01"]}
    ),
    "lead_detail": Route(
        "GET", "/v1/leads/L01", _statuses(200, 200, 403), template="/v1/leads/{lead_id}"
    ),
    "explanation": Route(
        "GET",
        "/v1/leads/L01/explanation",
        _statuses(200, 200, 403),
        template="/v1/leads/{lead_id}/explanation",
    ),
    "outcome": Route(
        "POST",
        "/v1/leads/L13/outcomes",
        _statuses(200, 200, 403),
        lambda r: {"event_type": "email_sent", "event_id": f"RM-OUT-{r}"},
        template="/v1/leads/{lead_id}/outcomes",
    ),
    "queue": Route(
        "GET",
        "/v1/queue",
        _statuses(200, 200, 403),
        params=lambda: {"officer": "lo-01", "at": queue_at().isoformat()},
    ),
    "list_users": Route("GET", "/v1/users", _statuses(403, 403, 200)),
    "add_user": Route(
        "POST",
        "/v1/users",
        _statuses(403, 403, 201),
        lambda r: {"name": f"made-by-{r}", "role": "crm"},
    ),
    "revoke_user": Route(
        "DELETE",
        "/v1/users/victim-{role}",
        _statuses(403, 403, 200),
        setup=_make_victim,
        template="/v1/users/{name}",
    ),
    "audit": Route("GET", "/v1/audit", _statuses(403, 403, 200)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ROUTES))
def test_each_role_gets_the_expected_status_on_each_route(api: Api, name: str, role: str) -> None:
    route = ROUTES[name]
    if route.setup is not None:
        route.setup(api, role)
    who = {"bad_token": "bad", "anonymous": "nobody"}.get(role, role)
    response = api.client.request(
        route.method,
        route.path.format(role=role),
        headers=api.headers(who),
        json=None if route.body is None else route.body(role),
        params=None if route.params is None else route.params(),
    )
    assert response.status_code == route.expected[role], (name, role, response.text[:300])
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_every_route_of_the_app_is_in_the_matrix(api: Api) -> None:
    matrix = {(r.method, r.template or r.path) for r in ROUTES.values()}
    ops = {"/healthz", "/readyz", "/metrics"}
    served = {
        (method.upper(), path)
        for path, methods in api.client.get("/openapi.json").json()["paths"].items()
        for method in methods
        if path.startswith("/v1/") or path in ops  # the officer's web page has its own tests
    }
    assert served - matrix == set()


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    user, token = api.ctx.users.add("short-lived", "crm")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/model", headers=headers).status_code == 200
    api.ctx.users.revoke("short-lived")
    assert api.client.get("/v1/model", headers=headers).status_code == 401


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    from sqlalchemy import text

    with api.ctx.event_log.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(text("select * from users")) for v in row]
    for token in api.tokens.values():
        assert all(token not in value for value in stored)


# -- officer isolation --------------------------------------------------------------------------


def _not_found_shape(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["detail"].split(":")[0]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/leads/{lead}", None),
        ("GET", "/v1/leads/{lead}/explanation", None),
        ("POST", "/v1/leads/{lead}/outcomes", {"event_type": "email_sent"}),
        ("POST", "/v1/score", {"lead_ids": ["{lead}"]}),
    ],
)
def test_another_officers_lead_answers_like_an_unknown_lead(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    def call(lead: str) -> Any:
        payload = (
            None
            if body is None
            else {k: [lead] if isinstance(v, list) else v for k, v in body.items()}
        )
        return api.client.request(
            method, path.format(lead=lead), headers=api.headers("officer"), json=payload
        )

    others = call("M01")  # lo-02's lead, asked by lo-01
    unknown = call("NOPE-1")
    assert others.status_code == 404
    assert _not_found_shape(others) == _not_found_shape(unknown)
    assert "lo-02" not in others.text


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
    assert other.status_code == 404
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
