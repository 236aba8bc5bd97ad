"""Missing, malformed, revoked, expired and superseded tokens answer 401 on every protected
route (the role matrix, 403 for a wrong role, is tests/api/test_roles.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_world import Api, World, queue_at
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from leadscore.cli import app
from serving.auth import UserStore
from serving.db import create_serving_tables

PROTECTED = [
    ("GET", "/v1/model", None),
    ("POST", "/v1/score", {"lead_ids": ["L01"]}),
    ("GET", "/v1/queue", None),
    ("GET", "/v1/leads/L01", None),
    ("GET", "/v1/audit", None),
]


def _authorization(api: Api, kind: str) -> dict[str, str]:
    good = api.tokens["crm"]
    values = {
        "missing": None,
        "empty": "",
        "scheme only": "Bearer",
        "scheme and space": "Bearer ",
        "basic": "Basic Y3JtOnNlY3JldA==",
        "other scheme, good token": f"Token {good}",
        "two tokens": f"Bearer {good} {good}",
        "no prefix": f"Bearer {good.removeprefix('ls_')}",
        "one character off": f"Bearer {good[:-1]}{'A' if good[-1] != 'A' else 'B'}",
        "very long": f"Bearer ls_{'x' * 10_000}",
        "sql": "Bearer ls_' OR '1'='1",
        "unknown": "Bearer ls_not-a-real-token",
    }
    value = values[kind]
    return {} if value is None else {"Authorization": value}


KINDS = [
    "missing",
    "empty",
    "scheme only",
    "scheme and space",
    "basic",
    "other scheme, good token",
    "two tokens",
    "no prefix",
    "one character off",
    "very long",
    "sql",
    "unknown",
]


def _call(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    params = {"officer": "lo-01", "at": queue_at().isoformat()} if path == "/v1/queue" else None
    return api.client.request(method, path, headers=headers, json=body, params=params)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_a_missing_or_malformed_token_answers_401(
    api: Api, kind: str, method: str, path: str, body: Any
) -> None:
    response = _call(api, method, path, body, _authorization(api, kind))
    assert response.status_code == 401, (kind, response.text[:200])
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] in ("invalid or revoked token", _missing_detail())
    assert api.tokens["crm"] not in response.text


def _missing_detail() -> str:
    return "missing bearer token; send 'Authorization: Bearer <token>'"


def test_the_good_token_in_the_same_shapes_is_accepted(api: Api) -> None:
    """The 401s above come from the token, not from the request: the same calls pass with it."""
    headers = {"Authorization": f"Bearer {api.tokens['crm']}"}
    statuses = [_call(api, m, p, b, headers).status_code for m, p, b in PROTECTED]
    assert statuses == [200, 200, 200, 200, 403]  # the audit is for admins


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_a_revoked_token_is_refused_at_once_and_stays_refused(
    api: Api, method: str, path: str, body: Any
) -> None:
    name = f"short-lived-{method}{path.replace('/', '-')}"
    _, token = api.ctx.users.add(name, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    before = _call(api, method, path, body, headers).status_code
    api.ctx.users.revoke(name)
    assert _call(api, method, path, body, headers).status_code == 401
    api.ctx.users.add(name, "admin")  # the name given out again: the old token stays dead
    assert _call(api, method, path, body, headers).status_code == 401
    assert before != 401


def test_a_rotated_token_is_refused_and_the_new_one_works(api: Api) -> None:
    _, old = api.ctx.users.add("rotating", "crm")
    new = api.ctx.users.rotate("rotating")
    assert api.client.get("/v1/model", headers={"Authorization": f"Bearer {old}"}).status_code == (
        401
    )
    assert api.client.get("/v1/model", headers={"Authorization": f"Bearer {new}"}).status_code == (
        200
    )


def test_a_revoked_token_in_a_page_session_signs_the_officer_out(api: Api) -> None:
    _, token = api.ctx.users.add("page-user", "officer", officer_id="lo-01")
    api.client.cookies.set("leadscore_session", token)
    try:
        assert api.client.get("/queue", follow_redirects=False).status_code == 200
        api.ctx.users.revoke("page-user")
        gone = api.client.get("/queue", follow_redirects=False)
        assert (gone.status_code, gone.headers["location"]) == (303, "/login")
    finally:
        api.client.cookies.clear()


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_an_expired_token_answers_401(api: Api, method: str, path: str, body: Any) -> None:
    name = f"expired-{method}{path.replace('/', '-')}"
    expired = datetime.now(UTC) - timedelta(minutes=1)
    _, token = api.ctx.users.add(name, "admin", expires_at=expired, now=expired - timedelta(days=1))
    response = _call(api, method, path, body, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked token"


def test_a_token_works_until_its_expiry_and_not_after(api: Api) -> None:
    created = api.post(
        "/v1/users", "admin", json={"name": "week", "role": "crm", "expires_in_days": 7}
    )
    assert created.status_code == 201
    token, expires = created.json()["token"], created.json()["user"]["expires_at"]
    until = datetime.fromisoformat(expires)
    assert timedelta(days=7) - timedelta(minutes=1) < until - datetime.now(UTC) <= timedelta(days=7)
    assert (
        api.client.get("/v1/model", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert api.ctx.users.authenticate(token, now=until - timedelta(seconds=1)) is not None
    assert api.ctx.users.authenticate(token, now=until) is None
    zero_days = {"name": "forever", "role": "crm", "expires_in_days": 0}
    assert api.post("/v1/users", "admin", json=zero_days).status_code == 422


def test_users_made_before_expiry_existed_keep_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # the users table as it was before tokens could expire
        conn.execute(
            text(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE, "
                "role VARCHAR(16) NOT NULL, officer_id VARCHAR(64), token_sha256 VARCHAR(64) "
                "NOT NULL UNIQUE, created_at DATETIME NOT NULL, revoked_at DATETIME)"
            )
        )
    create_serving_tables(engine)
    store = UserStore(engine)
    user, token = store.add("old-crm", "crm")
    assert store.authenticate(token) == user
    assert user.expires_at is None


def test_users_add_takes_an_expiry(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(world.log_path, tmp_path / "leadscore.db")
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "temp", "--role", "crm", "--expires-in", "12h"])
    assert added.exit_code == 0, added.output
    assert "valid until" in added.output
    refused = runner.invoke(app, ["users", "add", "temp2", "--role", "crm", "--expires-in", "soon"])
    assert refused.exit_code == 2
    assert "30m, 12h or 90d" in refused.output
