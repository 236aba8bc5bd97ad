"""Operations: liveness, readiness with its reason, Prometheus metrics, JSON access logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from api_world import Api, World, serving_config
from fastapi.testclient import TestClient

from leadscore.logging import JsonFormatter
from serving.app import create_app


def test_healthz_and_readyz_when_everything_is_up(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    checks = {"model": "ok", "event_log": "ok", "feature_store": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": checks}
    detailed = api.get("/readyz", "admin")
    assert detailed.status_code == 200
    assert detailed.json()["checks"] == checks
    assert detailed.json()["model_version"] == "lead-scorer/1"


def test_metrics_count_requests_scores_and_name_the_model(api: Api) -> None:
    api.post("/v1/score", "crm", json={"lead_ids": ["L01", "L02"]})
    api.get("/v1/leads/NOPE", "crm")
    text = api.client.get("/metrics").text
    assert 'leadscore_http_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert 'route="/v1/leads/{lead_id}",status="404"' in text
    assert 'leadscore_scores_served_total{endpoint="score"}' in text
    assert 'leadscore_model_info{version="lead-scorer/1"} 1.0' in text
    assert "leadscore_http_request_duration_seconds_bucket" in text


def test_each_request_writes_one_json_access_line_with_its_request_id(api: Api) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("leadscore.access")
    access.addHandler(handler)
    old = access.level
    access.setLevel(logging.INFO)
    try:
        response = api.post("/v1/score", "officer", json={"lead_ids": ["L01"]})
    finally:
        access.removeHandler(handler)
        access.setLevel(old)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["route"], line["status"], line["role"]) == ("/v1/score", 200, "officer")
    assert line["duration_ms"] > 0


@pytest.fixture(scope="module")
def unready(world: World, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    home: Path = tmp_path_factory.mktemp("unready")
    config = serving_config(
        world,
        home,
        tracking_uri=f"sqlite:///{home / 'empty-mlflow.db'}",
        feature_store_dir=home / "never-built",
    )
    with TestClient(create_app(config)) as client:
        yield client


def _bearer(client: TestClient, name: str, role: str, **kwargs: str) -> dict[str, str]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {ctx.users.add(name, role, **kwargs)[1]}"}


@pytest.mark.parametrize(
    ("who", "role"), [("nobody", None), ("bad-token", None), ("crm", "crm"), ("ana", "officer")]
)
def test_readyz_names_the_failing_parts_but_says_why_only_to_admins(
    unready: TestClient, who: str, role: str | None
) -> None:
    if role is None:
        headers = {"Authorization": "Bearer ls_not-a-token"} if who == "bad-token" else {}
    else:
        extra = {"officer_id": "lo-01"} if role == "officer" else {}
        headers = _bearer(unready, f"ready-{who}", role, **extra)
    response = unready.get("/readyz", headers=headers)
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "checks": {"model": "unavailable", "event_log": "ok", "feature_store": "unavailable"},
    }
    assert "never-built" not in response.text  # the missing folder, named in the exception


def test_readyz_tells_an_admin_what_is_missing(unready: TestClient) -> None:
    response = unready.get("/readyz", headers=_bearer(unready, "ready-admin", "admin"))
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["model"].startswith("no model loaded")
    assert "champion" in checks["model"]
    assert checks["event_log"] == "ok"
    assert checks["feature_store"] not in ("ok", "unavailable")
    assert "start_seconds" in response.json()
    assert unready.get("/healthz").status_code == 200


def test_without_a_model_scores_answer_503_not_500(unready: TestClient) -> None:
    headers = _bearer(unready, "crm-unready", "crm")
    response = unready.post("/v1/score", json={"lead_ids": ["L01"]}, headers=headers)
    assert response.status_code == 503
    assert "no model is loaded" in response.json()["detail"]
