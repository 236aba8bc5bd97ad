"""Bad input answers 4xx naming the field, never a 500, and never echoes personal data."""

from __future__ import annotations

import io
import json
from datetime import UTC
from typing import Any

import pytest
from api_world import PII_MARKERS, Api, event, new_lead
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text[:300]
    return [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/score", {"lead_ids": ["L01"], "leadids": ["L02"]}, ["body", "leadids"]),
        ("/v1/score", {"lead_ids": "L01"}, ["body", "lead_ids"]),
        ("/v1/score", {"lead_ids": ["L01"], "top_k": "many"}, ["body", "top_k"]),
        (
            "/v1/events",
            {"events": [{**event("B1", "L01", "web_visit"), "colour": "red"}]},
            ["body", "events", 0, "colour"],
        ),
        (
            "/v1/events",
            {"events": [{**event("B1", "L01", "web_visit"), "event_id": 7}]},
            ["body", "events", 0, "event_id"],
        ),
        (
            "/v1/leads",
            {"leads": [{**new_lead("B2"), "loan_amount_usd": "lots"}]},
            ["body", "leads", 0, "loan_amount_usd"],
        ),
        (
            "/v1/leads",
            {"leads": [{k: v for k, v in new_lead("B3").items() if k != "phone"}]},
            ["body", "leads", 0, "phone"],
        ),
    ],
)
def test_a_wrong_field_answers_422_naming_it(
    api: Api, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    assert loc in _locs(api.post(path, "crm", json=body))


def test_bad_query_and_path_values_name_the_parameter(api: Api) -> None:
    assert ["query", "at"] in _locs(api.get("/v1/queue", "officer", params={"at": "soon"}))
    assert ["query", "date"] in _locs(api.get("/v1/queue", "officer", params={"date": "32/13"}))
    assert ["path", "lead_id"] in _locs(api.get("/v1/leads/not a lead!", "crm"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"at": "9999-12-31T23:00:00Z"}, "at"),
        ({"at": "0001-01-01T00:00:00Z"}, "at"),
        ({"date": "9999-12-31"}, "date"),
        ({"date": "0001-01-01"}, "date"),
    ],
)
def test_a_queue_more_than_a_year_away_is_refused(
    api: Api, params: dict[str, str], field: str
) -> None:
    assert ["query", field] in _locs(api.get("/v1/queue", "officer", params=params))


def test_invalid_json_is_a_422_not_a_500(api: Api) -> None:
    response = api.client.post(
        "/v1/score",
        content=b'{"lead_ids": [',
        headers={**api.headers("crm"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_personal_data_never_reaches_error_bodies_or_logs(
    api: Api, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, surname, phone, email = PII_MARKERS
    pii_lead = new_lead("PII-2", first_name=name, last_name=surname, phone=phone, email=email)
    bodies = [
        api.post("/v1/leads", "crm", json={"leads": [{**pii_lead, "loan_amount_usd": "lots"}]}),
        api.post("/v1/leads", "crm", json={"leads": [{**pii_lead, "state": "XX", "phone": name}]}),
        api.post("/v1/leads", "crm", json={"leads": [{**pii_lead, "extra": phone}]}),
        api.post("/v1/score", "crm", json={"lead_ids": [email]}),
    ]
    assert [b.status_code for b in bodies] == [422, 200, 422, 422]
    detail = api.get("/v1/leads/L-PII", "officer")
    assert detail.status_code == 200
    assert name in detail.text

    import serving.routes.score as score_route

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not score {name} {surname} at {phone}")

    monkeypatch.setattr(score_route, "score_leads", bug)
    crash = api.post("/v1/score", "crm", json={"lead_ids": ["L-PII"]})
    assert crash.status_code == 500
    assert crash.json()["request_id"] == crash.headers["x-request-id"]
    bodies.append(crash)

    logged = log_lines.getvalue()
    assert '"error_type": "ValueError"' in logged
    for marker in PII_MARKERS:
        assert marker not in logged
        for body in bodies:
            assert marker not in body.text
    for line in logged.splitlines():
        json.loads(line)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
CALLERS = {
    "/v1/score": "crm",
    "/v1/events": "crm",
    "/v1/leads": "crm",
    "/v1/leads/L13/outcomes": "officer",
    "/v1/users": "admin",
    "/v1/model/reload": "admin",
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(sorted(CALLERS)), body=json_values)
def test_fuzzed_bodies_never_cause_a_server_error(api: Api, path: str, body: Any) -> None:
    response = api.post(path, CALLERS[path], json=body)
    assert response.status_code < 500, (path, body, response.text[:300])


field_text = st.one_of(
    st.none(), st.text(max_size=30), st.sampled_from(["", " ", "2025-13-45T99:00Z"])
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(
        st.fixed_dictionaries(
            {
                "event_id": st.text(min_size=0, max_size=70),
                "lead_id": st.sampled_from(["L13", "", "x" * 80]),
                "occurred_at": st.text(max_size=30),
                "event_type": st.text(max_size=15),
            },
            optional={"channel": field_text, "call_outcome": field_text, "page": field_text},
        ),
        min_size=1,
        max_size=5,
    )
)
def test_well_formed_but_wrong_events_are_rejected_item_by_item(
    api: Api, items: list[dict[str, Any]]
) -> None:
    response = api.post("/v1/events", "crm", json={"events": items})
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["items"]) == len(items)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["officer", "date", "at", "other"]), st.text(max_size=25), max_size=3
    )
)
def test_fuzzed_queue_queries_never_cause_a_server_error(api: Api, params: dict[str, str]) -> None:
    response = api.get("/v1/queue", "crm", params=params)
    assert response.status_code < 500, (params, response.text[:300])


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    outcome=st.fixed_dictionaries(
        {"event_type": st.sampled_from(["call", "text_sent", "opt_out", "consent_granted"])},
        optional={
            "channel": st.sampled_from(["call", "text", "email"]),
            "call_outcome": st.sampled_from(["connected", "no_answer", "asked_to_stop"]),
            "occurred_at": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
            "event_id": st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z"),
        },
    )
)
def test_fuzzed_outcomes_are_accepted_or_rejected_never_a_server_error(
    api: Api, outcome: dict[str, Any]
) -> None:
    response = api.post("/v1/leads/L14/outcomes", "officer", json=outcome)
    assert response.status_code in (200, 422), response.text[:300]


# What Schemathesis (benchmarks/bench_schemathesis.py) found against the live OpenAPI.


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/audit?since=0.5", "since"),
        ("/v1/audit?since=1733238000", "since"),
        ("/v1/queue?officer=lo-01&at=12.5", "at"),
        ("/v1/queue?officer=lo-01&date=20261203", "date"),
    ],
)
def test_a_number_is_not_a_date_or_time(api: Api, path: str, field: str) -> None:
    response = api.get(path, "admin" if "audit" in path else "crm")
    assert ["query", field] in _locs(response)
    assert "ISO 8601" in response.text


def test_a_method_the_path_does_not_take_answers_405_listing_every_one_it_does(api: Api) -> None:
    response = api.client.put("/v1/users", headers=api.headers("admin"))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["detail"] == "Method Not Allowed"


def test_the_openapi_documents_what_the_routes_answer(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    bodies = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "requestBody" in op
    ]
    assert bodies
    for path, method, op in bodies:
        assert "400" in op["responses"], f"{method.upper()} {path}"
    assert {} in schema["paths"]["/readyz"]["get"]["security"]  # anyone may probe
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "409" in schema["paths"]["/v1/users"]["post"]["responses"]
    assert "404" in schema["paths"]["/v1/users/{name}"]["delete"]["responses"]
