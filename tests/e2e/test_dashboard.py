"""End to end in a real browser: the dashboard follows the live stream without a reload."""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from saylau.domain.calendar import Calendars
from tests.factories import detention, envelope, release, stuffing, unique
from tests.stack import ROOT, Stack, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ARTIFACTS = ROOT / "test-artifacts"
LIVE_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, which the set-up installs (scripts/setup.sh): without it the
    dashboard tests fail, they never skip (a green run must have driven the dashboard)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the dashboard tests need Debian's chromium "
                    "(make test installs it; by hand: apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: "Content Security Policy" in msg.text
              and errors.append(msg.text))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


def open_dashboard(page: Page, stack: Stack, query: str = "") -> None:
    """Open the page and sign in with the form: the key is typed, never put in a URL."""
    page.goto(f"{stack.api_url}/{query}")
    sign_in(page, stack.reader_key)


def sign_in(page: Page, key: str) -> None:
    page.get_by_test_id("sign-in-key").fill(key)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "live", timeout=LIVE_TIMEOUT_MS)


def city_row(page: Page, city: str) -> Locator:
    return page.locator(f'[data-testid="city-row"][data-city="{city}"]')


def test_detention_counts_update_live(stack: Stack, page: Page) -> None:
    city = unique("Oral")
    open_dashboard(page, stack)
    reports_before = int(page.get_by_test_id("timeline-chart").get_attribute("data-total") or 0)
    for event in (detention(city, 12, region="West Kazakhstan"),
                  detention(city, 5, region="West Kazakhstan")):
        assert stack.post(event).status_code == 202
    row = city_row(page, city)
    expect(row.get_by_test_id("city-detained-now")).to_have_text("17", timeout=LIVE_TIMEOUT_MS)
    expect(row.get_by_test_id("city-detained-total")).to_have_text("17")

    assert stack.post(release(city, 4, region="West Kazakhstan")).status_code == 202
    expect(row.get_by_test_id("city-detained-now")).to_have_text("13", timeout=LIVE_TIMEOUT_MS)
    expect(row.get_by_test_id("city-detained-total")).to_have_text("17")
    expect(page.get_by_test_id("timeline-chart")).to_have_attribute(
        "data-total", str(reports_before + 3), timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload


def test_breach_and_station_appear_live(stack: Stack, page: Page) -> None:
    station = unique("PS")
    open_dashboard(page, stack)
    assert stack.post(stuffing(station)).status_code == 202
    row = page.locator(f'[data-testid="station-row"][data-station="{station}"]')
    expect(row.get_by_test_id("station-total")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    breach = page.get_by_test_id("breach").filter(has_text=station).first
    expect(breach.get_by_test_id("breach-severity")).to_have_attribute("data-severity", "critical")
    expect(breach.get_by_test_id("breach-legal-ref")).to_contain_text("Art.")
    tile = page.locator('[data-testid="region"][data-region="West Kazakhstan"]')
    expect(tile).to_be_visible()


def test_station_filter_and_sort(stack: Stack, page: Page) -> None:
    busy, quiet = unique("PS"), unique("PS")
    for event in (stuffing(busy), stuffing(busy), stuffing(quiet)):
        assert stack.post(event).status_code == 202
    open_dashboard(page, stack)
    rows = page.get_by_test_id("station-row")
    expect(rows.filter(has_text=busy).get_by_test_id("station-total")).to_have_text(
        "2", timeout=LIVE_TIMEOUT_MS)
    page.get_by_test_id("station-region-filter").select_option("West Kazakhstan")
    expect(rows.filter(has_not_text="West Kazakhstan")).to_have_count(0)
    expect(rows.filter(has_text=quiet)).to_have_count(1)
    header = page.locator('th[data-sort="total"]')
    expect(header).to_have_attribute("aria-sort", "descending")
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    totals = [int(t) for t in page.get_by_test_id("station-total").all_text_contents()]
    assert totals == sorted(totals)


def test_shows_lost_connection_and_catches_up(own_stack: Stack, page: Page) -> None:
    """The api dies; reports keep arriving; the page says so, then shows what it missed."""
    city = unique("Aktobe")
    own_stack.start()
    open_dashboard(page, own_stack)
    own_stack.kill("api")
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "reconnecting", timeout=LIVE_TIMEOUT_MS)
    assert own_stack.post(detention(city, 9, region="Aktobe")).status_code == 202
    own_stack.start_api()
    expect(city_row(page, city).get_by_test_id("city-detained-now")).to_have_text(
        "9", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("connection-detail")).to_contain_text("caught up")


def test_labels_in_kazakh_and_wall_mode(stack: Stack, page: Page) -> None:
    open_dashboard(page, stack, "?lang=kk&wall=1")
    assert page.locator("html").get_attribute("lang") == "kk"
    expect(page.get_by_test_id("connection-label")).to_have_text("Тікелей")
    assert "wall" in (page.locator("body").get_attribute("class") or "")


def test_the_silent_stations_panel_reads_the_coverage_of_the_election_running_now(
        stack: Stack, page: Page) -> None:
    open_dashboard(page, stack)
    running = Calendars.load().for_event(None, datetime.now(UTC))
    expect(page.get_by_test_id("silent-summary")).to_have_text(
        "No election is being observed now." if running is None
        else re.compile(r"^Silent: \d+ of \d+ stations"))


def test_screenshot(stack: Stack, page: Page) -> None:
    """A demo-like picture of the page, saved as a test artefact, showing the seeded data."""
    seed_demo(stack)
    open_dashboard(page, stack)
    expect_demo_shown(page)
    page.wait_for_timeout(2000)  # let the row highlight fade
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 2560, "height": 1440})
    page.goto(f"{stack.api_url}/?wall=1")
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "live", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))
    expect_demo_shown(page)
    for panel in ("kpi-detained-now", "detentions", "breaches", "timeline-chart"):
        expect(page.get_by_test_id(panel)).to_be_in_viewport()  # one screen, no scrolling
    page.screenshot(path=str(ARTIFACTS / "dashboard-wall.png"))


def expect_demo_shown(page: Page) -> None:
    """What the picture must show: the seeded cities, the stuffed station, its breach."""
    for city in ("Almaty", "Nur-Sultan", "Shymkent"):
        expect(city_row(page, city)).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(city_row(page, "Nur-Sultan").get_by_test_id("city-detained-now")).to_have_text("14")
    station = page.locator('[data-testid="station-row"][data-station="PS-027"]')
    expect(station.get_by_test_id("station-total")).to_have_text("2")
    breach = page.get_by_test_id("breach").filter(has_text="PS-027").first
    expect(breach.get_by_test_id("breach-legal-ref")).to_contain_text("Art.")
    expect(page.get_by_test_id("kpi-detained-total")).not_to_have_text(re.compile(r"^0?$"))


def seed_demo(stack: Stack) -> None:
    events = [detention("Almaty", 23, region="Almaty", occurred_at="2021-01-10T12:05:00+06:00"),
              detention("Almaty", 9, region="Almaty", occurred_at="2021-01-10T12:40:00+06:00"),
              release("Almaty", 11, region="Almaty", occurred_at="2021-01-10T13:30:00+06:00"),
              detention("Nur-Sultan", 14, region="Nur-Sultan",
                        occurred_at="2021-01-10T12:20:00+06:00"),
              detention("Shymkent", 4, region="Turkistan",
                        occurred_at="2021-01-10T13:10:00+06:00")]
    events += [stuffing(f"PS-{n:03d}", occurred_at=f"2021-01-10T1{n % 4 + 1}:{n:02d}:00+06:00")
               for n in (14, 27, 27, 33, 48)]
    assert stack.post_batch(events).status_code == 200


def test_station_timeline_shows_evidence_thumbnails(stack: Stack, page: Page) -> None:
    """Clicking a station lists its reports; a photo shows as its metadata-free derivative."""
    from tests.e2e.test_evidence import stored
    from tests.evidence_files import jpeg_with_gps

    station, region = unique("PS"), unique("region")
    photo = stored(stack, jpeg_with_gps(station.encode()))
    report = stuffing(station, place={"region": region}, evidence=[{"sha256": photo["sha256"]}])
    assert stack.post(report).status_code == 202
    open_dashboard(page, stack)
    expect(page.locator(f'[data-testid="station-region-filter"] option[value="{region}"]')
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    page.get_by_test_id("station-region-filter").select_option(region)
    row = page.locator(f'[data-testid="station-row"][data-station="{station}"]')
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    row.click()
    thumb = page.get_by_test_id("station-timeline").get_by_test_id("evidence-thumb")
    expect(thumb).to_have_attribute("src", re.compile(photo["derivative_sha256"]))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())


def test_station_timeline_shows_who_triaged_each_report(stack: Stack, page: Page) -> None:
    """Each triage action shows its actor (the key's partner), beside the operator's own
    signature when she gave one; a note stays withheld from a reader of no names."""
    station, region = unique("PS"), unique("region")
    report = stuffing(station, place={"region": region})
    assert stack.post(report).status_code == 202
    wait_until(lambda: stack.get(f"/v1/events/{report['event_id']}").status_code == 200)
    for action in (envelope("triage.claimed", {"event_id": report["event_id"],
                                               "operator": "Dana"}),
                   envelope("triage.commented", {"event_id": report["event_id"],
                                                 "note": "called the observer"})):
        posted = stack.post(action)
        assert posted.status_code == 202, posted.text
    wait_until(lambda: len(stack.get(f"/v1/stations/{station}/timeline").json()["events"][0]
                           ["triage"]["notes"]) == 1)
    open_dashboard(page, stack)
    expect(page.locator(f'[data-testid="station-region-filter"] option[value="{region}"]')
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    page.get_by_test_id("station-region-filter").select_option(region)
    page.locator(f'[data-testid="station-row"][data-station="{station}"]').click()
    actions = page.get_by_test_id("station-timeline").get_by_test_id("triage-action")
    expect(actions).to_have_text(["Claimed by tester (Dana)",
                                  "Note by tester [text withheld]"])


def test_sign_in_see_data_sign_out_and_the_key_is_in_no_url(stack: Stack, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    city = unique("Oral")
    page.goto(stack.api_url)
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.get_by_test_id("sign-in-key").fill("not-a-key")
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in-error")).to_be_visible()
    sign_in(page, stack.reader_key)
    expect(page.get_by_test_id("sign-in")).to_be_hidden()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("reader")
    assert stack.post(detention(city, 6, region="West Kazakhstan")).status_code == 202
    expect(city_row(page, city).get_by_test_id("city-detained-now")).to_have_text(
        "6", timeout=LIVE_TIMEOUT_MS)
    cookie = next(c for c in page.context.cookies() if c["name"] == "saylau_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert stack.reader_key not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "offline")
    assert not [c for c in page.context.cookies() if c["name"] == "saylau_session"]
    page.reload()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    stale = httpx.get(f"{stack.api_url}/v1/detentions", cookies={"saylau_session": cookie["value"]})
    assert stale.status_code == 401  # signing out ended the session on the server too
    assert page.url.rstrip("/") == stack.api_url
    assert requested and not [url for url in requested if stack.reader_key in url]
    assert not [url for url in requested if "access_token" in url or "key=" in url]


def test_an_old_key_link_signs_in_once_and_drops_the_key(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.api_url}/?key={stack.reader_key}&lang=ru")
    assert page.url == f"{stack.api_url}/?lang=ru"
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "live", timeout=LIVE_TIMEOUT_MS)


def test_security_headers_and_closed_cors(stack: Stack, page: Page) -> None:
    reply = page.goto(stack.api_url)
    assert reply is not None
    headers = reply.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    script = httpx.get(f"{stack.api_url}/static/dashboard.js")
    assert script.headers["content-security-policy"] == csp
    assert script.headers["x-content-type-options"] == "nosniff"
    api = httpx.get(f"{stack.api_url}/v1/detentions", headers={"Origin": "https://evil.example"})
    assert api.status_code == 401 and "access-control-allow-origin" not in api.headers
    assert "<script>" not in httpx.get(stack.api_url).text  # no inline script to allow


def test_sign_in_from_another_site_is_refused(stack: Stack) -> None:
    reply = httpx.post(f"{stack.api_url}/v1/session", json={"key": stack.reader_key},
                       headers={"Origin": "https://evil.example"})
    assert reply.status_code == 403 and "set-cookie" not in reply.headers
    own = httpx.post(f"{stack.api_url}/v1/session", json={"key": stack.reader_key})
    assert own.status_code == 200 and "HttpOnly" in own.headers["set-cookie"]
    assert "SameSite=strict" in own.headers["set-cookie"]
    assert "Secure" not in own.headers["set-cookie"]  # plain http here; set over https
    unknown = httpx.post(f"{stack.api_url}/v1/session", json={"key": "nope"})
    assert unknown.status_code == 401


def test_chart_follows_the_latest_report_and_the_chosen_range(stack: Stack, page: Page) -> None:
    late = detention(unique(), 1, occurred_at="2021-01-10T23:00:00+06:00")
    assert stack.post(late).status_code == 202
    recent = detention(unique(), 1, occurred_at="2021-01-10T12:05:00+06:00")
    assert stack.post(recent).status_code == 202
    wait_until(lambda: stack.get("/v1/timeline").json()["latest_report_at"].startswith(
        "2021-01-10T06:05:00"))
    open_dashboard(page, stack)
    chart = page.get_by_test_id("timeline-chart")
    expect(chart).to_have_attribute("data-end", "2021-01-10T06:00:00.000Z")
    expect(chart).to_have_attribute("data-buckets", "36")
    assert stack.post(detention(unique(), 1, occurred_at="2021-01-10T13:12:00+06:00")
                      ).status_code == 202
    expect(chart).to_have_attribute("data-end", "2021-01-10T07:10:00.000Z",
                                    timeout=LIVE_TIMEOUT_MS)
    page.get_by_test_id("timeline-range").select_option("1")
    expect(chart).to_have_attribute("data-buckets", "6")
    expect(chart.locator("rect.bar")).to_have_count(6)
