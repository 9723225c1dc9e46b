"""The dashboard's messages to observers in a real browser: a coordinator signed in with her
account sends a message from the panel (to ingest, with her session and its CSRF token), her
observer gets it, and the panel counts her reading it."""
from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.test_accounts import add_user, centre, session_of
from tests.e2e.test_broadcasts import REGION_A, in_the_field, messages, read, read_event
from tests.e2e.test_dashboard import LIVE_TIMEOUT_MS, browser, page
from tests.e2e.test_dashboard_accounts import sign_in_with_account
from tests.e2e.test_observer_app import ARTIFACTS
from tests.factories import unique
from tests.stack import Stack, wait_until

__all__ = ["browser", "centre", "page"]


def test_a_coordinator_sends_from_the_dashboard_and_sees_who_read_it(centre: Stack,
                                                                      page: Page) -> None:
    her, login = in_the_field(centre, REGION_A), unique("dana")
    sign_in_with_account(page, centre, login, add_user(centre, login, "coordinator", REGION_A))
    form = page.get_by_test_id("broadcast-form")
    form.get_by_label("Text in English").fill("Count the ballots twice")
    form.get_by_label("Regions").fill("Mangistau")  # her region, as an alias
    form.get_by_role("button", name="Send to observers").click()
    expect(page.get_by_test_id("broadcast-status")).to_have_text(
        "Sent; it reaches the observers once projected.")

    [got] = wait_until(lambda: [m for m in messages(centre, her.token)
                                if m["text"] == {"en": "Count the ballots twice"}])
    assert read_event(centre, got["id"])["payload"]["sender"] == login  # set by ingest
    assert read(centre, her.token, got["id"], her.observer_id).status_code == 202
    shown = page.locator(f'[data-testid="broadcast"][data-broadcast-id="{got["id"]}"]')
    expect(shown).to_contain_text("Count the ballots twice")
    expect(shown.get_by_test_id("broadcast-read")).to_have_text("read by 1 of 1",
                                                                timeout=LIVE_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "dashboard-broadcasts.png"), full_page=True)


def test_a_session_sends_only_with_its_csrf_token_and_within_her_regions(
        centre: Stack) -> None:
    login = unique("dana")
    session = session_of(centre, login, add_user(centre, login, "coordinator", REGION_A))

    def send(regions: list[str], **headers: str) -> httpx.Response:
        return httpx.post(f"{centre.ingest_url}/v1/broadcasts", cookies=session["cookies"],
                          json={"text": {"en": "hi"}, "regions": regions}, timeout=30,
                          headers={"Origin": centre.api_url, **headers})

    assert send([REGION_A]).status_code == 403  # no X-CSRF-Token
    assert send([REGION_A], **{"X-CSRF-Token": "forged"}).status_code == 403
    elsewhere = send(["Kyzylorda"], **{"X-CSRF-Token": session["csrf_token"]})
    assert elsewhere.status_code == 403
    assert elsewhere.json()["detail"][0]["loc"] == ["body", "regions"]
    sent = send([REGION_A], **{"X-CSRF-Token": session["csrf_token"]})
    assert sent.status_code == 202, sent.text
