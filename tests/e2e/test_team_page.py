"""The team page in a real headless Chromium: managers and admins, charts drawn on the server,
filters that work without JavaScript, and no entry for officers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)

Page = Any
Site = Any
OpenPage = Callable[..., Page]
SignIn = Callable[[Page, str], None]
Check = Callable[[Page, str], None]
Shoot = Callable[[Page, str], Any]

CHARTS = 8


def _analytics(page: Page, site: Site, **params: str) -> dict[str, Any]:
    response = page.request.get(
        "/v1/analytics",
        params=params,
        headers={"Authorization": f"Bearer {site.home.tokens['manager']}"},
    )
    assert response.ok, response.text()
    answer: dict[str, Any] = response.json()
    return answer


def _charts_loaded(page: Page) -> None:
    charts = page.locator("figure.chart img")
    expect(charts).to_have_count(CHARTS)
    for i in range(CHARTS):
        chart = charts.nth(i)
        assert (chart.get_attribute("alt") or "").strip(), f"chart {i} has no alt text"
        chart.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=chart.element_handle()
        )


def test_a_manager_lands_on_the_team_page_with_charts_tables_and_the_apis_figures(
    site: Site,
    new_page: OpenPage,
    sign_in: SignIn,
    screenshot: Shoot,
    check_accessibility: Check,
) -> None:
    page = new_page()
    sign_in(page, "manager")
    expect(page).to_have_url(re.compile(r"/team$"))
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Team")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Today's calls")).to_have_count(0)
    expect(page.get_by_role("link", name="Model")).to_have_count(0)

    answer = _analytics(page, site)
    figures = page.locator(".key-figure")
    expect(figures).to_have_count(6)
    applications = figures.filter(has_text="Applications").locator(".key-value")
    expect(applications).to_have_text(str(answer["counts"]["applications"]))
    officers = page.get_by_role("table", name="By officer")
    for officer in answer["officers"]:
        expect(officers.get_by_role("rowheader", name=officer, exact=True)).to_be_visible()
    expect(page.locator("section.card > h2")).to_have_text(
        [
            "Speed to lead",
            "Touches per new lead",
            "Contact rate",
            "Conversion by follow-up intensity",
            "Time from first contact to application",
            "Applications and revenue by source and officer",
            "Capacity used per day",
        ]
    )
    _charts_loaded(page)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "team")
    check_accessibility(page, "team")


def test_filters_by_dates_and_officer_work_without_javascript(
    site: Site, new_page: OpenPage, sign_in: SignIn
) -> None:
    page = new_page(java_script_enabled=False)
    sign_in(page, "manager")
    zone = ZoneInfo("America/Chicago")
    last = site.home.now.astimezone(zone).date()
    first = last - timedelta(days=29)
    page.get_by_label("From", exact=True).fill(first.isoformat())
    page.get_by_label("To (included)", exact=True).fill(last.isoformat())
    page.get_by_label("Officer", exact=True).select_option("lo-01")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"officer=lo-01"))
    expect(page.locator(".sub")).to_contain_text(f"{first.day} {first:%b %Y}")
    expect(page.locator(".sub")).to_contain_text("officer lo-01")
    expect(page.get_by_label("Officer", exact=True)).to_have_value("lo-01")
    officers = page.get_by_role("table", name="By officer")
    expect(officers.get_by_role("rowheader")).to_have_text(["lo-01"])
    answer = _analytics(
        page, site, since=first.isoformat(), until=last.isoformat(), officer="lo-01"
    )
    figures = page.locator(".key-figure")
    expect(figures.filter(has_text="Applications").locator(".key-value")).to_have_text(
        str(answer["counts"]["applications"])
    )
    _charts_loaded(page)

    page.get_by_label("From", exact=True).fill(last.isoformat())
    page.get_by_label("To (included)", exact=True).fill(first.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("since must be before until")
    expect(page.get_by_label("From", exact=True)).to_have_attribute("aria-invalid", "true")


def test_the_admin_has_a_team_link_and_officers_get_no_team_page(
    new_page: OpenPage, sign_in: SignIn
) -> None:
    admin = new_page()
    sign_in(admin, "admin")
    admin.get_by_role("link", name="Team").click()
    expect(admin).to_have_url(re.compile(r"/team$"))
    expect(admin.locator("figure.chart img")).to_have_count(CHARTS)

    officer = new_page()
    sign_in(officer, "officer")
    expect(officer.get_by_role("link", name="Team")).to_have_count(0)
    response = officer.goto("/team")
    assert response is not None
    assert response.status == 403
    expect(officer.locator("main")).to_contain_text("admins and managers")
    assert officer.locator("figure.chart img").count() == 0
