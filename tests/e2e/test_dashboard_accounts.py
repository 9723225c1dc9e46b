"""The dashboard in a real browser for a person with an account: a coordinator signs in with
her login and password, sees her role and regions, and verifies a report from the station
timeline (the triage event goes to ingest with her session and its CSRF token)."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.test_accounts import add_user, centre
from tests.e2e.test_dashboard import LIVE_TIMEOUT_MS, browser, page
from tests.factories import stuffing, unique
from tests.stack import Stack

__all__ = ["browser", "centre", "page"]


def sign_in_with_account(page: Page, stack: Stack, login: str, password: str) -> None:
    page.goto(stack.api_url)
    page.get_by_test_id("sign-in-with-account").click()
    page.get_by_test_id("sign-in-login").fill(login)
    page.get_by_test_id("sign-in-password").fill(password)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "live", timeout=LIVE_TIMEOUT_MS)


def test_a_coordinator_signs_in_sees_her_regions_and_verifies_a_report(centre: Stack,
                                                                       page: Page) -> None:
    station, login = unique("PS"), unique("dana")
    report = stuffing(station, place={"region": "Almaty", "city": "Almaty"})
    assert centre.post(report).status_code == 202
    sign_in_with_account(page, centre, login,
                         add_user(centre, login, "coordinator", "Turkistan", "Almaty"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(login)
    expect(page.get_by_test_id("signed-in-role")).to_have_text("coordinator")
    expect(page.get_by_test_id("signed-in-regions")).to_have_text("Regions: Almaty, Turkistan")

    row = page.locator(f'[data-testid="station-row"][data-station="{station}"]')
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    row.click()
    item = page.locator(f'[data-testid="station-event"][data-event="{report["event_id"]}"]')
    expect(item.get_by_test_id("station-event-status")).not_to_have_text("verified")
    item.get_by_test_id("triage-verify").click()
    expect(item.get_by_test_id("triage-result")).to_have_text("Verify: recorded.")
    expect(item.get_by_test_id("station-event-status")).to_have_text(
        "verified", timeout=LIVE_TIMEOUT_MS)


def test_the_header_says_who_in_russian_and_an_analyst_gets_no_triage_buttons(
        centre: Stack, page: Page) -> None:
    station, login = unique("PS"), unique("aru")
    assert centre.post(stuffing(station)).status_code == 202
    sign_in_with_account(page, centre, login, add_user(centre, login, "analyst"))
    page.goto(f"{centre.api_url}/?lang=ru")
    expect(page.get_by_test_id("signed-in-role")).to_have_text("аналитик")
    expect(page.get_by_test_id("signed-in-regions")).to_have_text("вся страна")
    row = page.locator(f'[data-testid="station-row"][data-station="{station}"]')
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    row.click()
    expect(page.get_by_test_id("station-event")).to_have_count(1)
    expect(page.get_by_test_id("triage-actions")).to_have_count(0)
