"""Scores and explanations: calibrated probabilities from the served model, reasons that are the
model's own SHAP values, every feature in an explanation, and an audit row per score."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from api_world import Api

from features.definitions import FEATURE_NAMES

LEADS = ["L01", "L02", "L03", "L09", "L13", "L14"]


def test_a_score_carries_probability_tier_reasons_and_model_version(api: Api) -> None:
    response = api.post("/v1/score", "crm", json={"lead_ids": ["L01"]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "lead-scorer/1"
    (score,) = body["scores"]
    assert score["lead_id"] == "L01"
    assert 0.0 < score["probability"] < 1.0
    assert score["tier"] in ("hot", "warm", "cold")
    # identity Platt calibration in the test model: probability = sigmoid(log-odds)
    assert score["probability"] == pytest.approx(
        1 / (1 + math.exp(-score["raw_log_odds"])), abs=1e-5
    )
    ups = [r["shap_log_odds"] for r in score["reasons"]["up"]]
    downs = [r["shap_log_odds"] for r in score["reasons"]["down"]]
    assert 0 < len(ups) <= 3
    assert 0 < len(downs) <= 3
    assert ups == sorted(ups, reverse=True)
    assert all(v > 0 for v in ups)
    assert downs == sorted(downs)
    assert all(v < 0 for v in downs)
    assert "server-timing" in response.headers


def test_a_batch_scores_each_lead_once_in_the_order_asked(api: Api) -> None:
    asked = [*LEADS, "L01"]
    body = api.post("/v1/score", "crm", json={"lead_ids": asked, "top_k": 1}).json()
    assert [s["lead_id"] for s in body["scores"]] == LEADS
    assert all(len(s["reasons"]["up"]) <= 1 for s in body["scores"])


def test_scores_match_the_model_on_the_feature_stores_own_online_read(api: Api) -> None:
    """The served probability is the model's on Feast's online features at the same moment."""
    body = api.post("/v1/score", "crm", json={"lead_ids": LEADS}).json()
    scored_at = datetime.fromisoformat(body["scored_at"]).astimezone(UTC)
    online = api.ctx.feature_store.online_features(LEADS, scored_at)
    expected = api.ctx.model.require().scorer.predict_proba(online)
    served = [s["probability"] for s in body["scores"]]
    assert served == pytest.approx(list(expected), abs=1e-6)


def test_an_explanation_lists_every_feature_and_adds_up_to_the_score(api: Api) -> None:
    response = api.get("/v1/leads/L03/explanation", "officer")
    assert response.status_code == 200
    body = response.json()
    assert sorted(c["feature"] for c in body["contributions"]) == sorted(FEATURE_NAMES)
    total = body["base_log_odds"] + sum(c["shap_log_odds"] for c in body["contributions"])
    assert total == pytest.approx(body["raw_log_odds"], abs=1e-4)
    sizes = [abs(c["shap_log_odds"]) for c in body["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    assert body["model_version"] == "lead-scorer/1"


def test_each_score_is_audited_with_who_asked_and_the_reasons(api: Api) -> None:
    response = api.post(
        "/v1/score", "officer", json={"lead_ids": ["L13"]}, headers={"X-Request-ID": "audit-me-1"}
    )
    assert response.headers["x-request-id"] == "audit-me-1"
    rows = [r for r in api.ctx.audit.read(lead_id="L13") if r["request_id"] == "audit-me-1"]
    assert len(rows) == 1
    row = rows[0]
    score = response.json()["scores"][0]
    assert (row["action"], row["actor"], row["actor_role"], row["officer_id"]) == (
        "score",
        "ana",
        "officer",
        "lo-01",
    )
    assert row["model_version"] == "lead-scorer/1"
    assert row["probability"] == pytest.approx(score["probability"])
    assert {r["feature"] for r in row["reasons"]} == {
        r["feature"] for d in ("up", "down") for r in score["reasons"][d]
    }


def test_lead_detail_shows_contact_compliance_score_and_recent_events(api: Api) -> None:
    body = api.get("/v1/leads/L08", "officer").json()
    assert body["lead"]["lead_id"] == "L08"
    assert body["lead"]["phone"].startswith("+1")
    assert body["compliance"]["consent"] == {"call": False, "text": False, "email": True}
    assert body["compliance"]["now"]["call"]["rule"] == "no_consent"
    assert body["score"]["model_version"] == "lead-scorer/1"
    assert body["recent_events"][0]["event_type"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"lead_ids": ["NOT-A-LEAD"]}, 404),
        ({"lead_ids": []}, 422),
        ({"lead_ids": [f"L{i}" for i in range(1001)]}, 422),
        ({"lead_ids": ["L01"], "top_k": 21}, 422),
    ],
)
def test_bad_score_requests_are_4xx(api: Api, payload: dict[str, object], status: int) -> None:
    assert api.post("/v1/score", "crm", json=payload).status_code == status


def test_top_k_zero_scores_without_reasons_and_agrees_with_the_full_score(api: Api) -> None:
    full = api.post("/v1/score", "crm", json={"lead_ids": LEADS}).json()["scores"]
    plain = api.post("/v1/score", "crm", json={"lead_ids": LEADS, "top_k": 0}).json()["scores"]
    for with_reasons, without in zip(full, plain, strict=True):
        assert without["reasons"] == {"up": [], "down": []}
        assert without["probability"] == pytest.approx(with_reasons["probability"], abs=1e-5)
        assert without["tier"] == with_reasons["tier"]
