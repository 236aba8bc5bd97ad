"""GET /v1/analytics and `leadscore report` against figures counted by hand (team_world.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import World, serving_config
from fastapi.testclient import TestClient
from team_world import EXPECTED, EXPECTED_LO_B, SINCE, UNTIL, write_team_world
from typer.testing import CliRunner

from features.event_log import EventLog
from leadscore.cli import app as cli
from serving.app import create_app
from serving.context import ServingContext
from serving.web.session import SESSION_COOKIE

WINDOW = {"since": SINCE, "until": UNTIL}


@pytest.fixture(scope="module")
def team(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API world's app with the hand-built team stored beside its (recent) leads; the
    client carries a manager's token, and `team.app.state.tokens` every role's."""
    home = tmp_path_factory.mktemp("team")
    config = serving_config(world, home)
    log = EventLog(config.event_log_url)
    write_team_world(log)
    log.dispose()
    application = create_app(config)
    with TestClient(application) as client:
        ctx: ServingContext = application.state.ctx
        tokens = {
            role: ctx.users.add(
                f"team-{role}", role, officer_id="lo-a" if role == "officer" else None
            )[1]
            for role in ("crm", "officer", "manager", "admin")
        }
        application.state.tokens = tokens
        client.headers.update({"Authorization": f"Bearer {tokens['manager']}"})
        yield client


def _rate(cell: dict[str, Any]) -> tuple[int, int]:
    return int(cell["count"]), int(cell["of"])


def _report(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/v1/analytics", params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_window_is_the_week_in_the_workday_zone(team: TestClient) -> None:
    window = _report(team)["window"]
    assert window["since"] == "2025-02-03T06:00:00+00:00"  # midnight in Chicago (UTC-6)
    assert window["until"] == "2025-02-10T06:00:00+00:00"  # the 9th is included
    assert (window["days"], window["officer"]) == (7, None)


def test_speed_to_lead_counts_new_leads_including_the_untouched(team: TestClient) -> None:
    speed = _report(team)["speed_to_lead"]
    assert speed["new_leads"] == EXPECTED["new_leads"]
    assert speed["contacted"] == EXPECTED["contacted"]
    assert _rate(speed["within_5_min"]) == EXPECTED["within_5_min"]
    assert speed["within_5_min"]["small"] is True  # 4 leads: shown as a count
    assert speed["median_minutes"] == pytest.approx(EXPECTED["median_minutes"])
    found = {b["label"]: b["count"] for b in speed["distribution"] if b["count"]}
    assert found == EXPECTED["speed_buckets"]


def test_touches_per_new_lead_and_the_share_with_five_or_more(team: TestClient) -> None:
    touches = _report(team)["touches_per_lead"]
    assert touches["touches"] == EXPECTED["touches"]
    assert touches["mean"] == pytest.approx(EXPECTED["mean_touches"])
    assert touches["median"] == pytest.approx(EXPECTED["median_touches"])
    assert _rate(touches["five_plus"]) == EXPECTED["five_plus"]
    found = {b["label"]: b["count"] for b in touches["distribution"] if b["count"]}
    assert found == EXPECTED["touch_distribution"]


def test_contact_rates_by_channel_local_hour_and_weekday(team: TestClient) -> None:
    contact = _report(team)["contact_rate"]
    by_channel = {k: _rate(v) for k, v in contact["by_channel"].items()}
    assert by_channel == EXPECTED["contact_by_channel"]
    for channel in ("call", "text", "email"):
        hours = {c["hour"]: _rate(c) for c in contact["by_local_hour"] if c["channel"] == channel}
        assert hours == EXPECTED[f"{channel}_by_hour"], channel
    days = {c["weekday"]: _rate(c) for c in contact["by_local_weekday"] if c["channel"] == "call"}
    assert days == EXPECTED["call_by_weekday"]
    assert contact["unknown_time_zone_touches"] == EXPECTED["unknown_time_zone"]


def test_conversion_by_follow_up_intensity_counts_touches_before_applying(
    team: TestClient,
) -> None:
    rows = {r["touches"]: _rate(r) for r in _report(team)["conversion_by_touches"]}
    for label, counts in EXPECTED["conversion"].items():
        assert rows[label] == counts, label
    assert sum(of for _, of in rows.values()) == EXPECTED["new_leads"]


def test_applications_time_to_apply_and_revenue(team: TestClient) -> None:
    report = _report(team)
    assert report["counts"] == {
        "new_leads": EXPECTED["new_leads"],
        "touches": EXPECTED["all_touches"],
        "applications": EXPECTED["applications"],
        "funded": EXPECTED["funded"],
    }
    assert report["revenue_usd"] == pytest.approx(EXPECTED["revenue_usd"])
    timing = report["first_contact_to_application"]
    assert (timing["applications"], timing["contacted_before"]) == (2, 2)
    assert timing["median_days"] == pytest.approx(EXPECTED["median_days_to_application"])
    found = {b["label"]: b["count"] for b in timing["distribution"] if b["count"]}
    assert found == EXPECTED["application_buckets"]


def test_by_source_and_by_officer(team: TestClient) -> None:
    report = _report(team)
    sources = {
        r["source"]: (
            r["new_leads"],
            _rate(r["converted"]),
            r["applications"],
            r["funded"],
            r["revenue_usd"],
        )
        for r in report["by_source"]
    }
    assert sources == EXPECTED["by_source"]
    officers = {r["officer_id"]: r for r in report["by_officer"]}
    assert set(officers) == set(EXPECTED["by_officer"])
    for officer, expected in EXPECTED["by_officer"].items():
        row = officers[officer]
        new, fast, per_lead, five, calls, apps, funded, revenue, used = expected
        assert row["new_leads"] == new, officer
        assert _rate(row["within_5_min"]) == fast, officer
        assert row["touches_per_lead"] == (None if per_lead is None else pytest.approx(per_lead))
        assert _rate(row["five_plus"]) == five, officer
        assert _rate(row["call_contact"]) == calls, officer
        assert (row["applications"], row["funded"]) == (apps, funded), officer
        assert row["revenue_usd"] == pytest.approx(revenue), officer
        assert row["capacity_used"] == pytest.approx(used), officer


def test_capacity_used_per_day_against_each_officers_capacity(team: TestClient) -> None:
    capacity = _report(team)["capacity"]
    days = capacity["days"]
    assert [d["date"] for d in days] == [f"2025-02-{d:02d}" for d in range(3, 10)]
    assert [d["contacts"] for d in days] == EXPECTED["daily_contacts"]
    assert {d["capacity"] for d in days} == {EXPECTED["team_capacity"]}
    assert capacity["weekday_used"] == pytest.approx(EXPECTED["weekday_used"])
    assert capacity["days_at_capacity"] == 0


def test_one_officer_sees_only_their_leads(team: TestClient) -> None:
    report = _report(team, officer="lo-b")
    assert report["window"]["officer"] == "lo-b"
    assert report["officers"] == EXPECTED_LO_B["officers"]
    assert report["counts"] == {
        "new_leads": EXPECTED_LO_B["new_leads"],
        "touches": EXPECTED_LO_B["all_touches"],
        "applications": EXPECTED_LO_B["applications"],
        "funded": EXPECTED_LO_B["funded"],
    }
    assert report["revenue_usd"] == pytest.approx(EXPECTED_LO_B["revenue_usd"])
    by_channel = {k: _rate(v) for k, v in report["contact_rate"]["by_channel"].items()}
    assert by_channel == EXPECTED_LO_B["contact_by_channel"]
    days = report["capacity"]["days"]
    assert [d["contacts"] for d in days] == EXPECTED_LO_B["daily_contacts"]
    assert {d["capacity"] for d in days} == {EXPECTED_LO_B["team_capacity"]}


def test_the_answer_names_no_lead_and_no_personal_data(team: TestClient) -> None:
    text = team.get("/v1/analytics", params=WINDOW).text
    for marker in ('"TA"', '"TD"', '"TX"', "LeadT", "@example.com", "+1312555"):
        assert marker not in text


def test_every_rate_says_whether_it_is_small(team: TestClient) -> None:
    report = _report(team)
    assert report["min_cell"] == 20
    cells = [*report["contact_rate"]["by_local_hour"], *report["conversion_by_touches"]]
    assert cells
    assert all(c["small"] is (c["of"] < 20) for c in cells)
    assert all(c["rate"] is None for c in cells if c["of"] == 0)
    assert "small" in report["definitions"]


def test_a_window_without_activity_answers_zeros(team: TestClient) -> None:
    report = _report(team, since="2020-01-01", until="2020-01-31")
    assert report["counts"] == {"new_leads": 0, "touches": 0, "applications": 0, "funded": 0}
    assert report["speed_to_lead"]["within_5_min"]["rate"] is None
    assert report["touches_per_lead"]["mean"] is None
    assert len(report["capacity"]["days"]) == 31
    assert report["officers"] == []


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"since": "9x"}, "since", "neither a number of days"),
        ({"since": "900d"}, "since", "1d to 731d"),
        ({"until": "2025-02-30"}, "until", "not a date"),
        ({"since": "2025-02-03T08:00:00"}, "since", "time zone offset"),
        ({"since": "2025-03-01", "until": "2025-02-01"}, "since", "before until"),
        ({"since": "2020-01-01", "until": "2025-02-01"}, "since", "731 at most"),
        ({"officer": "lo-zz"}, "officer", "no leads belong to officer 'lo-zz'"),
        ({"officer": "lo a!"}, "officer", "letters, digits"),
    ],
)
def test_bad_parameters_answer_422_naming_the_parameter(
    team: TestClient, params: dict[str, str], field: str, says: str
) -> None:
    response = team.get("/v1/analytics", params={**WINDOW, **params})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", field]
    assert says in detail["msg"]


# -- the page ----------------------------------------------------------------------------------


def _page(team: TestClient, who: str | None, path: str = "/team", **params: str) -> Any:
    """The page as `who` sees it, signed in by the session cookie (no bearer header)."""
    cookies = {} if who is None else {SESSION_COOKIE: team.app.state.tokens[who]}
    with TestClient(team.app, cookies=cookies) as browser:
        return browser.get(path, params=params, follow_redirects=False)


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_the_team_page_shows_managers_and_admins_the_figures_and_charts(
    team: TestClient, who: str
) -> None:
    page = _page(team, who, **WINDOW)
    assert page.status_code == 200
    html = page.text
    assert "3 Feb 2025 – 9 Feb 2025 (America/Chicago), all officers" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 8
    assert html.count("<table") >= 10
    assert "1 of 4" in html  # within 5 minutes: a small cell, a count
    assert "$5,000" in html
    assert "data:" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_an_admin_can_add_a_manager_through_the_api(team: TestClient) -> None:
    admin = {"Authorization": f"Bearer {team.app.state.tokens['admin']}"}
    made = team.post("/v1/users", headers=admin, json={"name": "mgr-2", "role": "manager"})
    assert made.status_code == 201, made.text
    assert made.json()["user"]["role"] == "manager"
    token = made.json()["token"]
    answer = team.get("/v1/analytics", params=WINDOW, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    with_officer = team.post(
        "/v1/users",
        headers=admin,
        json={"name": "mgr-3", "role": "manager", "officer_id": "lo-a"},
    )
    assert with_officer.status_code == 422  # only officer users carry an officer id


def test_the_team_page_draws_an_empty_window(team: TestClient) -> None:
    page = _page(team, "manager", since="2020-01-01", until="2020-01-31")
    assert page.status_code == 200
    assert page.text.count('<img src="data:image/svg+xml;base64,') == 8


@pytest.mark.parametrize("who", ["officer", "crm"])
def test_officers_and_the_crm_get_a_403_page(team: TestClient, who: str) -> None:
    page = _page(team, who, **WINDOW)
    assert page.status_code == 403
    assert "admins and managers" in page.text
    assert "data:image/svg" not in page.text


def test_the_team_page_asks_strangers_to_sign_in(team: TestClient) -> None:
    page = _page(team, None)
    assert page.status_code == 303
    assert page.headers["location"] == "/login"


def test_a_manager_lands_on_the_team_page_and_nowhere_else(team: TestClient) -> None:
    assert _page(team, "manager", "/").headers["location"] == "/team"
    assert _page(team, "manager", "/queue").status_code == 403
    assert _page(team, "manager", "/model").status_code == 403
    assert _page(team, "manager", "/leads/TA").status_code == 403
    assert _page(team, "manager", "/model/versions/1/plots/calibration.png").status_code == 404
    cookies = {SESSION_COOKIE: team.app.state.tokens["manager"]}
    with TestClient(team.app, cookies=cookies) as browser:
        posted = browser.post(
            "/leads/TA/outcomes", data={"outcome": "connected"}, follow_redirects=False
        )
    assert posted.status_code == 403


def test_the_team_page_filters_by_officer_and_explains_bad_filters(team: TestClient) -> None:
    page = _page(team, "manager", officer="lo-b", **WINDOW)
    assert page.status_code == 200
    assert "all officers" not in page.text
    assert '<option value="lo-b" selected>' in page.text
    bad = _page(team, "manager", since="2025-03-01", until="2025-02-01")
    assert bad.status_code == 422
    assert "since must be before until" in bad.text
    assert 'id="since" name="since" value="2025-03-01" aria-invalid="true"' in bad.text
    assert "data:image/svg" not in bad.text


# -- the command -------------------------------------------------------------------------------


@pytest.fixture
def team_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home whose event log holds only the hand-built team."""
    home = tmp_path / "home"
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    write_team_world(log)
    log.dispose()
    monkeypatch.setenv("LEADSCORE_HOME", str(home))
    return home


def test_leadscore_report_writes_the_same_figures_charts_and_markdown(
    team_home: Path, tmp_path: Path, team: TestClient
) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["report", "--since", SINCE, "--until", UNTIL, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "First touch within 5 minutes" in result.stdout
    written = json.loads((out / "report.json").read_text())
    served = _report(team)
    for answer in (written, served):
        answer.pop("generated_at")
    assert written == served  # the API's answer, from another event log holding the same team

    text = (out / "report.md").read_text()
    assert "| First touch within 5 minutes | 1 of 4 |" in text  # small: a count, no percentage
    assert "| ≤ 5 min | 1 | 25% |" in text
    assert "| lo-b | 1 | 0 of 1 | 1.0 | 0 of 1 | 1 of 1 | 1 | 1 | $5,000 | 4.0% |" in text
    assert "| Past client | 0 | — | 1 | 1 | $5,000 |" in text
    assert "| Tue 2025-02-04 | 4 | 90 | 4.4% |" in text
    charts = sorted(p.name for p in out.glob("*.svg"))
    assert len(charts) == 8
    for name in charts:
        assert f"({name})" in text  # each chart is linked from the markdown
        root = ET.parse(out / name).getroot()
        assert root.tag.endswith("svg")


def test_leadscore_report_for_one_officer(team_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "lo-b"
    result = CliRunner().invoke(
        cli, ["report", "--since", SINCE, "--until", UNTIL, "--officer", "lo-b", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = json.loads((out / "report.json").read_text())
    assert written["officers"] == ["lo-b"]
    assert written["revenue_usd"] == pytest.approx(EXPECTED_LO_B["revenue_usd"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "9x"], "--since: since '9x' is neither"),
        (["--since", "2025-03-01", "--until", "2025-02-01"], "since must be before until"),
        (["--officer", "lo-zz"], "officers with leads: lo-a, lo-b, lo-z"),
    ],
)
def test_leadscore_report_refuses_bad_options_with_exit_code_2(
    team_home: Path, tmp_path: Path, args: list[str], says: str
) -> None:
    result = CliRunner().invoke(cli, ["report", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_leadscore_report_on_an_empty_event_log_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code == 2
    assert "leadscore ingest" in result.output
