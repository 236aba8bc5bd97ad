"""The role matrix: every route against every kind of caller (isolation: tests/reliability)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_world import Api, event, new_lead, queue_at

ROLES = ("anonymous", "bad_token", "crm", "officer", "manager", "admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    expected: dict[str, int]
    body: Callable[[str], Any] | None = None
    params: Callable[[], dict[str, str]] | None = None
    setup: Callable[[Api, str], dict[str, str] | None] | None = None
    """Prepares the call; may return values for the path's {placeholders}."""
    template: str | None = None
    """The OpenAPI path when `path` is a concrete one."""


def _statuses(
    crm: int, officer: int, admin: int, *, manager: int = 403, open_route: bool = False
) -> dict[str, int]:
    """Statuses by caller; a manager reads the team's analytics (and which model is served),
    nothing else: 403 unless given."""
    if open_route:
        return dict.fromkeys(ROLES, 200)
    return {
        "anonymous": 401,
        "bad_token": 401,
        "crm": crm,
        "officer": officer,
        "manager": manager,
        "admin": admin,
    }


def _make_victim(api: Api, role: str) -> None:
    api.ctx.users.add(f"victim-{role}", "crm")


def _make_webhook(api: Api, _role: str) -> dict[str, str]:
    """A webhook of its own for each call: one that removes it cannot spoil the next."""
    return {"webhook": api.ctx.webhooks.add("http://127.0.0.1:9/h", created_by="t")[0].id}


ROUTES = {
    "healthz": Route("GET", "/healthz", _statuses(0, 0, 0, open_route=True)),
    "readyz": Route("GET", "/readyz", _statuses(0, 0, 0, open_route=True)),
    "metrics": Route("GET", "/metrics", _statuses(0, 0, 0, open_route=True)),
    "openapi": Route("GET", "/openapi.json", _statuses(0, 0, 0, open_route=True)),
    "get_model": Route("GET", "/v1/model", _statuses(200, 200, 200, manager=200)),
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
    "analytics": Route("GET", "/v1/analytics", _statuses(403, 403, 200, manager=200)),
    "add_webhook": Route(
        "POST",
        "/v1/webhooks",
        _statuses(403, 403, 201),
        lambda r: {"url": f"http://127.0.0.1:9/hooks/{r}"},
    ),
    "list_webhooks": Route("GET", "/v1/webhooks", _statuses(403, 403, 200)),
    "remove_webhook": Route(
        "DELETE",
        "/v1/webhooks/{webhook}",
        _statuses(403, 403, 200),
        setup=_make_webhook,
        template="/v1/webhooks/{webhook_id}",
    ),
    "webhook_deliveries": Route(
        "GET",
        "/v1/webhooks/{webhook}/deliveries",
        _statuses(403, 403, 200),
        setup=_make_webhook,
        template="/v1/webhooks/{webhook_id}/deliveries",
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ROUTES))
def test_each_role_gets_the_expected_status_on_each_route(api: Api, name: str, role: str) -> None:
    route = ROUTES[name]
    values = route.setup(api, role) if route.setup is not None else None
    who = {"bad_token": "bad", "anonymous": "nobody"}.get(role, role)
    response = api.client.request(
        route.method,
        route.path.format(role=role, **(values or {})),
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


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    from sqlalchemy import text

    with api.ctx.event_log.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(text("select * from users")) for v in row]
    for token in api.tokens.values():
        assert all(token not in value for value in stored)
