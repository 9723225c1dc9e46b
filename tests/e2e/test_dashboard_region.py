"""A coordinator's dashboard in a real browser (issue 31 item 7): her region's stations,
cities, tiles and chart, none of another region's, and no quick-count panel (national
statistics)."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import LIVE_TIMEOUT_MS, browser, city_row, page, sign_in
from tests.factories import detention, stuffing, unique
from tests.stack import Stack, wait_until

__all__ = ["browser", "page"]
MINE, THEIRS = "Kyzylorda", "Pavlodar"


def test_a_coordinators_dashboard_shows_her_region_alone(stack: Stack, page: Page) -> None:
    places = {region: (unique("PS"), unique("town")) for region in (MINE, THEIRS)}
    for region, (station, city) in places.items():
        for event in (stuffing(station, place={"region": region, "city": city}),
                      detention(city, 3, region=region)):
            assert stack.post(event).status_code == 202
    wait_until(lambda: {places[r][0] for r in places} <= {
        s["station_id"] for s in stack.walk("/v1/stations", "stations")})
    key = stack.add_key(unique("coordinator"), ["read"], [MINE])
    national_total = sum(b["reports"] for b in stack.get("/v1/timeline").json()["buckets"])

    page.goto(stack.api_url)
    sign_in(page, key)
    station, city = places[MINE]
    expect(page.locator(f'[data-testid="station-row"][data-station="{station}"]')).to_be_visible(
        timeout=LIVE_TIMEOUT_MS)
    expect(city_row(page, city)).to_be_visible()
    expect(page.locator(f'[data-testid="region"][data-region="{MINE}"]')).to_be_visible()
    expect(page.locator('[data-testid="region"]')).to_have_count(1)
    expect(page.locator(f'[data-testid="city-row"]:not([data-region="{MINE}"])')).to_have_count(0)
    expect(page.get_by_test_id("quickcount")).to_be_hidden()
    charted = int(page.get_by_test_id("timeline-chart").get_attribute("data-total") or 0)
    assert 2 <= charted < national_total  # her region's reports, not the country's
    shown = page.content()
    leaked = [marker for marker in (THEIRS, *places[THEIRS]) if marker in shown]
    assert not leaked, f"{MINE}'s coordinator's dashboard shows {THEIRS}'s {leaked}"
