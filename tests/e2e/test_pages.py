"""The loan officer's page and the model page in a real headless Chromium.

Read-only checks come first; the tests that log outcomes (and so change the queue) come last.
Screenshots go to test-artifacts/e2e/ (git-ignored); axe-core reports next to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)  # an outcome is ingested and the queue rebuilt on a busy box

LANES = ["new", "trigger", "ranked"]
CAPPED_STATES = {"FL", "OK", "MD"}

Page = Any
Site = Any
"""conftest.Site (not imported: several test folders have a module named conftest)."""
OpenPage = Callable[..., Page]
SignIn = Callable[[Page, str], None]
Check = Callable[[Page, str], None]
Shoot = Callable[[Page, str], Any]


def queue_url(site: Site, **params: str) -> str:
    return "/queue?" + urlencode({"at": site.home.at_param, **params})


def rows_of(page: Page) -> list[dict[str, Any]]:
    """The queue rows as the page shows them, in page order."""
    rows: list[dict[str, Any]] = page.locator("#queue-region li.row").evaluate_all(
        """els => els.map(e => ({lead: e.dataset.lead, lane: e.dataset.lane,
            rank: Number(e.dataset.rank), probability: Number(e.dataset.probability),
            state: e.dataset.state, hidden: e.hidden}))"""
    )
    return rows


def api_queue(page: Page, site: Site, who: str = "officer") -> dict[str, Any]:
    response = page.request.get(
        "/v1/queue",
        params={"at": site.home.at_param},
        headers={"Authorization": f"Bearer {site.home.tokens[who]}"},
    )
    assert response.ok, response.text()
    answer: dict[str, Any] = response.json()
    return answer


def calls_made(page: Page) -> int:
    text = page.locator("#capacity .capacity-count").inner_text()
    match = re.match(r"\s*(\d+) of (\d+) calls made today", text)
    assert match, text
    return int(match.group(1))


def stored_events(site: Site, lead_id: str) -> list[dict[str, Any]]:
    events = site.ctx.event_log.events(lead_ids=[lead_id])
    records: list[dict[str, Any]] = events.to_dict("records")
    return records


# -- sign-in -----------------------------------------------------------------------------------


def test_sign_in_refuses_a_bad_token_and_sign_out_ends_the_session(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Access token").fill("ls_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid or has been revoked")
    assert page.context.cookies() == [] or all(
        c["name"] != "leadscore_session" for c in page.context.cookies()
    )

    sign_in(page, "officer")
    expect(page).to_have_url(re.compile(r"/queue$"))
    assert site.home.tokens["officer"] not in page.url
    session = next(c for c in page.context.cookies() if c["name"] == "leadscore_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the token

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login$"))


# -- the queue ---------------------------------------------------------------------------------


def test_the_queue_shows_lanes_in_order_with_scores_reasons_and_when_to_call(
    site: Site,
    new_page: OpenPage,
    sign_in: SignIn,
    screenshot: Shoot,
    check_accessibility: Check,
) -> None:
    page = new_page()
    sign_in(page, "officer")
    response = page.goto(queue_url(site))
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"  # names and phones: never cached
    rows = rows_of(page)
    expected = api_queue(page, site)
    assert [r["lead"] for r in rows] == [i["lead_id"] for i in expected["items"]]
    assert len(rows) >= 10
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    lane_positions = [LANES.index(r["lane"]) for r in rows]
    assert lane_positions == sorted(lane_positions), "lanes must run new, trigger, ranked"
    for lane in ("trigger", "ranked"):
        scores = [r["probability"] for r in rows if r["lane"] == lane]
        assert scores == sorted(scores, reverse=True), f"{lane} lane must be ordered by score"
    new = [r["lead"] for r in rows if r["lane"] == "new"]
    assert {"NEW-0001", "NEW-0002"} <= set(new)
    created = site.ctx.event_log.leads(lead_ids=new).set_index("lead_id")["created_at"]
    assert list(created.loc[new]) == sorted(created), "new leads: oldest waiting first"

    first_ranked = page.locator("#queue-region li.row[data-lane=ranked]").first
    expect(first_ranked.locator(".pct")).to_have_text(re.compile(r"^(\d+(\.\d)?%|<0\.1%)$"))
    expect(first_ranked.locator(".tier")).to_have_text(re.compile(r"^(hot|warm|cold)$"))
    expect(first_ranked.locator(".chip")).to_have_count(4)
    expect(first_ranked.locator(".reason").first).to_be_visible()
    assert first_ranked.locator(".reason svg.bar").count() >= 1
    expect(first_ranked.locator(".reason .shap").first).to_have_text(re.compile(r"^[+-]\d+\.\d\d$"))
    expect(first_ranked.locator(".when")).to_contain_text("Best time")
    expect(first_ranked.locator(".when")).to_contain_text("Their time now")
    expect(first_ranked.locator(".window")).to_have_text(re.compile(r"Open until|Closes in"))
    expect(first_ranked.locator(".channel")).to_have_text(re.compile(r"^(Call|Text)$"))
    expect(page.get_by_role("heading", name="Maya Brooks")).to_be_visible()
    expect(page.get_by_role("heading", name="Why this order")).to_be_visible()
    expect(page.locator("#capacity")).to_contain_text("of 40 calls made today")

    held = page.locator("details.held")
    assert held.evaluate("d => d.open") is False, "held-back leads start collapsed"
    screenshot(page, "queue")
    check_accessibility(page, "queue")
    held.locator("summary").click()
    expect(held.locator("#held-HB-0001")).to_contain_text("No consent")
    expect(held.locator("#held-HB-0002")).to_contain_text("Unknown time zone")
    assert {h["lead_id"] for h in expected["held_back"]} >= {"HB-0001", "HB-0002"}


def test_filters_by_lane_and_segment_show_only_matching_rows(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.goto(queue_url(site))
    total = len(rows_of(page))
    page.get_by_label("Lane").select_option("ranked")
    visible = [r for r in rows_of(page) if not r["hidden"]]
    assert visible
    assert all(r["lane"] == "ranked" for r in visible)
    expect(page.locator("#filter-count")).to_have_text(f"Showing {len(visible)} of {total}")
    assert "lane=ranked" in page.url
    page.get_by_label("Lane").select_option("")
    loan = page.locator("#queue-region li.row").first.get_attribute("data-loan")
    page.get_by_label("Loan type").select_option(loan)
    shown = page.locator("#queue-region li.row:not([hidden])")
    assert shown.count() >= 1
    assert set(shown.evaluate_all("els => els.map(e => e.dataset.loan)")) == {loan}


def test_filters_and_the_page_work_without_javascript(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page(java_script_enabled=False)
    sign_in(page, "officer")
    page.goto(queue_url(site, lane="new"))
    visible = [r for r in rows_of(page) if not r["hidden"]]
    assert visible
    assert {r["lane"] for r in visible} == {"new"}
    page.get_by_label("Lane").select_option("trigger")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"lane=trigger"))
    assert {r["lane"] for r in rows_of(page) if not r["hidden"]} <= {"trigger"}


def test_the_queue_fits_a_phone_and_is_keyboard_navigable(
    site: Site, new_page: OpenPage, sign_in: SignIn, artifacts: Any, check_accessibility: Check
) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(page, "officer")
    page.goto(queue_url(site))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
    page.screenshot(path=str(artifacts / "queue-phone.png"))

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for _ in range(60):  # tab on until the first outcome button: buttons are real buttons
        page.keyboard.press("Tab")
        focused = page.locator(":focus")
        if focused.get_attribute("name") == "outcome":
            break
    else:
        pytest.fail("Tab never reached an outcome button")
    assert focused.evaluate("e => e.tagName") == "BUTTON"
    outline = focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline not in ("none", ""), "a focused button must show a focus outline"
    page.locator("details.held summary").click()
    check_accessibility(page, "queue-phone")


# -- one lead ----------------------------------------------------------------------------------


def test_a_lead_page_shows_the_timeline_waterfall_consent_and_loan(
    site: Site,
    new_page: OpenPage,
    sign_in: SignIn,
    screenshot: Shoot,
    check_accessibility: Check,
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.goto(queue_url(site))
    row = page.locator("#queue-region li.row[data-lane=ranked]").first
    name = row.locator(".name a").inner_text()
    row.locator(".name a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)

    steps = page.locator(".waterfall li")
    assert steps.count() >= 4
    expect(steps.first).to_contain_text("Average lead")
    expect(steps.last).to_contain_text("This lead")
    values = page.locator(".waterfall .wf-value").evaluate_all(
        "els => els.map(e => Number(e.dataset.value))"
    )
    assert values[0] + sum(values[1:-1]) == pytest.approx(values[-1], abs=1e-4)
    for channel in ("Call", "Text", "Email"):
        expect(page.get_by_role("row", name=re.compile(f"^{channel}"))).to_be_visible()
    loan = page.get_by_role("region", name="Loan")
    expect(loan).to_contain_text("Quoted rate")
    expect(loan).to_contain_text(re.compile(r"\$\d{1,3}(,\d{3})+"))
    expect(page.get_by_role("region", name="Consent and contact")).to_contain_text("Phone")
    expect(page.locator(".timeline li").last).to_contain_text("Lead created")
    assert page.locator(".timeline li").count() >= 2
    expect(page.get_by_role("button", name="Connected")).to_be_visible()
    screenshot(page, "lead")
    check_accessibility(page, "lead")


def test_another_officers_lead_cannot_be_opened_or_changed(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    leads = site.ctx.event_log.leads(officer_id="lo-02")
    foreign = str(leads["lead_id"].iloc[0])
    foreign_name = f"{leads['first_name'].iloc[0]} {leads['last_name'].iloc[0]}"
    page = new_page()
    sign_in(page, "officer")
    response = page.goto(f"/leads/{foreign}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead not found")
    assert foreign_name not in page.content()
    unknown = page.goto("/leads/NO-SUCH-LEAD")
    assert unknown is not None
    assert unknown.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead not found")

    page.goto(queue_url(site))
    csrf = page.locator("form[data-outcome] input[name=csrf]").first.get_attribute("value")
    before = len(stored_events(site, foreign))
    posted = page.request.post(
        f"/leads/{foreign}/outcomes",
        form={"csrf": csrf or "", "outcome": "connected", "event_id": "web-e2e-foreign"},
        max_redirects=0,
    )
    assert posted.status == 404
    assert len(stored_events(site, foreign)) == before


def test_an_outcome_without_the_form_token_is_refused(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    sign_in(page, "officer")
    before = len(stored_events(site, "NEW-0002"))
    posted = page.request.post(
        "/leads/NEW-0002/outcomes",
        form={"outcome": "connected", "event_id": "web-e2e-no-csrf"},
        max_redirects=0,
    )
    assert posted.status == 403
    assert "Outcome not saved" in posted.text()
    assert len(stored_events(site, "NEW-0002")) == before


# -- the model page ----------------------------------------------------------------------------


def test_the_admin_opens_the_model_page(
    site: Site,
    new_page: OpenPage,
    sign_in: SignIn,
    screenshot: Shoot,
    check_accessibility: Check,
) -> None:
    page = new_page()
    sign_in(page, "admin")
    expect(page).to_have_url(re.compile(r"/model$"))
    versions = site.home.versions
    expect(page.locator(".version-champion .version-number")).to_have_text(
        f"v{versions['champion']}"
    )
    expect(page.locator(".version-challenger .version-number")).to_have_text(
        f"v{versions['challenger']}"
    )
    table = page.locator("table.metrics").first
    for method in ("This model", "Newest first", "Points rule", "Logistic regression", "Oracle"):
        expect(table).to_contain_text(method)
    expect(page.get_by_role("heading", name=re.compile("Fairness audit"))).to_contain_text("passed")
    expect(page.locator(".sub").first).to_contain_text("last training")
    charts = page.locator(".chart img")
    expect(charts).to_have_count(4)
    for i in range(4):
        charts.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=charts.nth(i).element_handle()
        )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "model")
    check_accessibility(page, "model")


def test_officers_cannot_see_the_model_page_or_its_charts(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    chart = f"/model/versions/{site.home.versions['champion']}/plots/calibration.png"
    assert page.request.get(chart).status == 401
    sign_in(page, "officer")
    response = page.goto("/model")
    assert response is not None
    assert response.status == 403
    assert page.request.get(chart).status == 404
    assert page.locator(".chart img").count() == 0


# -- outcomes (these change the queue: keep them last) ------------------------------------------


def test_logging_connected_updates_the_row_in_place(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.goto(queue_url(site))
    lead = "NEW-0001"
    row = page.locator(f"#lead-{lead}")
    expect(row).to_have_attribute("data-lane", "new")
    expect(row).to_contain_text("Never contacted")
    before = calls_made(page)
    page.evaluate("window.__notReloaded = true")

    row.get_by_role("button", name="Connected").click()

    expect(page.locator("#flash")).to_contain_text("Logged “Connected” for Maya Brooks")
    row = page.locator(f"#lead-{lead}")
    expect(row).to_contain_text("Last call: Connected · just now")
    expect(row).not_to_have_attribute("data-lane", "new")
    expect(row.locator(".name a")).to_be_focused()
    assert page.evaluate("window.__notReloaded === true"), "the row is swapped in, not reloaded"
    assert calls_made(page) == before + (1 if site.home.same_workday else 0)
    calls = [e for e in stored_events(site, lead) if e["event_type"] == "call"]
    assert [c["call_outcome"] for c in calls] == ["connected"]
    assert lead in [i["lead_id"] for i in api_queue(page, site)["items"]]


def test_asked_to_stop_removes_the_lead_from_the_queue_at_once(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page(java_script_enabled=False)  # the plain form post and redirect
    sign_in(page, "officer")
    page.goto(queue_url(site))
    target = next(r for r in rows_of(page) if r["lane"] == "ranked")
    lead = target["lead"]
    name = page.locator(f"#lead-{lead} .name a").inner_text()

    page.locator(f"#lead-{lead}").get_by_role("button", name="Asked to stop").click()

    expect(page.locator("#flash")).to_contain_text(f"“Asked to stop” for {name}")
    expect(page.locator(f"#lead-{lead}")).to_have_count(0)
    expect(page.locator(f"#held-{lead}")).to_have_attribute("data-rule", "opted_out")
    kinds = {(e["event_type"], e["channel"], e["call_outcome"]) for e in stored_events(site, lead)}
    assert ("call", "call", "asked_to_stop") in kinds
    assert {("opt_out", "call", None), ("opt_out", "text", None)} <= kinds
    assert lead not in [i["lead_id"] for i in api_queue(page, site)["items"]]


def test_an_outcome_on_the_lead_page_lands_in_its_timeline(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.goto(f"/leads/NEW-0002?at={site.home.at_param}")
    timeline = page.locator(".timeline li")
    expect(timeline.first).to_contain_text("Asked a question about rates")
    before = timeline.count()
    page.get_by_role("button", name="Voicemail").click()
    expect(page.locator("#flash")).to_contain_text("Logged “Voicemail” for Omar Haddad")
    expect(timeline.first).to_contain_text("Call Voicemail")
    expect(timeline).to_have_count(before + 1)
