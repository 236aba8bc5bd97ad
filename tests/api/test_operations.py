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
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"model": "ok", "event_log": "ok", "feature_store": "ok"}
    assert ready.json()["model_version"] == "lead-scorer/1"


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


def test_readyz_answers_503_saying_what_is_missing(unready: TestClient) -> None:
    response = unready.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["model"].startswith("no model loaded")
    assert "champion" in checks["model"]
    assert checks["event_log"] == "ok"
    assert checks["feature_store"] != "ok"
    assert unready.get("/healthz").status_code == 200


def test_without_a_model_scores_answer_503_not_500(unready: TestClient) -> None:
    ctx = unready.app.state.ctx  # type: ignore[attr-defined]
    _, token = ctx.users.add("crm-unready", "crm")
    response = unready.post(
        "/v1/score", json={"lead_ids": ["L01"]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert "no model is loaded" in response.json()["detail"]
