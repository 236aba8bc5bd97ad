"""Limits that protect the service: bodies over 1 MiB answer 413, and a token that spends its
rate limit answers 429 with Retry-After while other tokens go on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from api_world import Api, World, event, serving_config
from fastapi.testclient import TestClient

from leadscore.commands.service import serving_config as settings_serving_config
from leadscore.settings import Settings
from serving.app import create_app
from serving.ratelimit import RateLimitConfigError, parse_rate_limit, redis_storage_uri

MIB = 1 << 20


def _json_post(api: Api, path: str, content: Any) -> Any:
    headers = {**api.headers("crm"), "Content-Type": "application/json"}
    return api.client.post(path, content=content, headers=headers)


def test_a_body_over_one_mebibyte_is_refused_by_its_length(api: Api) -> None:
    pad = MIB - len(json.dumps({"lead_ids": ["L01"], "pad": ""}))
    at_limit = json.dumps({"lead_ids": ["L01"], "pad": "x" * pad}).encode()
    assert len(at_limit) == MIB
    assert _json_post(api, "/v1/score", at_limit).status_code == 422  # read: `pad` is unknown
    over = json.dumps({"lead_ids": ["L01"], "pad": "x" * (pad + 1)}).encode()
    response = _json_post(api, "/v1/score", over)
    assert response.status_code == 413
    assert "1048576 bytes" in response.json()["detail"]


def test_a_streamed_body_over_one_mebibyte_is_refused_while_it_arrives(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for i in range(20_000):
            yield (json.dumps(event(f"S{i}", "L01", "web_visit")) + ",").encode()
        yield b"{}]}"

    response = _json_post(api, "/v1/events", chunks())
    assert response.status_code == 413
    assert api.ctx.event_log.events(lead_ids=["L01"])["event_id"].str.startswith("S").sum() == 0


def test_a_page_form_over_one_mebibyte_is_refused_too(api: Api) -> None:
    response = api.client.post("/login", data={"token": "x" * MIB, "nonce": "n"})
    assert response.status_code == 413


# -- rate limit --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An app allowing 3 requests a minute per token."""
    home: Path = tmp_path_factory.mktemp("limited")
    app = create_app(serving_config(world, home, rate_limit="3/minute"))
    with TestClient(app) as client:
        ctx = app.state.ctx
        tokens = {
            "crm": ctx.users.add("crm-limited", "crm")[1],
            "crm2": ctx.users.add("crm-other", "crm")[1],
            "admin": ctx.users.add("admin-limited", "admin")[1],
        }
        yield Api(client, ctx, tokens, world, home)


def test_a_token_over_its_limit_gets_429_with_retry_after(limited: Api) -> None:
    statuses = [limited.get("/v1/model", "crm").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = limited.get("/v1/model", "crm")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "3 per 1 minute" in refused.json()["detail"]
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    # another token has its own budget, and probes are never limited
    assert limited.get("/v1/model", "crm2").status_code == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert all(limited.client.get(path).status_code == 200 for _ in range(5)), path
    metrics = limited.client.get("/metrics").text
    assert 'route="unmatched",status="429"' in metrics  # counted before routing


def test_the_limit_counts_a_token_not_its_validity(limited: Api) -> None:
    """A bad token is limited like a good one (the limit holds before the database lookup);
    a request without one counts against its client address."""
    bad = {"Authorization": "Bearer ls_not-a-token"}
    assert [limited.client.get("/v1/model", headers=bad).status_code for _ in range(4)] == [
        401,
        401,
        401,
        429,
    ]
    anonymous = [limited.client.get("/v1/audit").status_code for _ in range(4)]
    assert anonymous == [401, 401, 401, 429]


def test_the_page_session_spends_the_same_budget_as_its_token(limited: Api) -> None:
    limited.client.cookies.set("leadscore_session", limited.tokens["admin"])
    try:
        assert [limited.client.get("/model").status_code for _ in range(3)] == [200] * 3
    finally:
        limited.client.cookies.clear()
    assert limited.get("/v1/model", "admin").status_code == 429


def test_an_unreachable_counter_store_lets_requests_through(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = serving_config(
        world, tmp_path, rate_limit="1/minute", rate_limit_storage="redis://127.0.0.1:9/0"
    )
    with TestClient(create_app(config)) as client:
        _, token = client.app.state.ctx.users.add("crm-open", "crm")  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [client.get("/v1/model", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    warnings = [r for r in caplog.records if "rate limit storage" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a request


@pytest.mark.parametrize("text", ["lots", "5 per fortnight", "100/s/x"])
def test_a_bad_rate_limit_setting_is_refused_with_the_form_to_use(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RateLimitConfigError, match="100/second"):
        parse_rate_limit(text)
    monkeypatch.setenv("LEADSCORE_RATE_LIMIT", text)
    with pytest.raises(typer.BadParameter, match="LEADSCORE_RATE_LIMIT"):
        settings_serving_config(Settings())


def test_off_means_no_limit_and_several_limits_combine() -> None:
    assert parse_rate_limit("off") == []
    assert [str(i) for i in parse_rate_limit("2/second;100/hour")] == [
        "2 per 1 second",
        "100 per 1 hour",
    ]


def test_the_counters_go_to_the_online_stores_redis_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_ONLINE_STORE", "redis")
    monkeypatch.setenv("LEADSCORE_REDIS_URL", "10.0.0.5:6380,db=3,password=p@ss")
    assert (
        settings_serving_config(Settings()).rate_limit_storage == "redis://:p%40ss@10.0.0.5:6380/3"
    )
    monkeypatch.setenv("LEADSCORE_RATE_LIMIT_STORAGE", "redis://cache:6379/9")
    assert settings_serving_config(Settings()).rate_limit_storage == "redis://cache:6379/9"
    monkeypatch.setenv("LEADSCORE_ONLINE_STORE", "sqlite")
    monkeypatch.delenv("LEADSCORE_RATE_LIMIT_STORAGE")
    assert settings_serving_config(Settings()).rate_limit_storage == "memory://"
    assert redis_storage_uri("127.0.0.1:6379,ssl=true") == "rediss://127.0.0.1:6379/0"
