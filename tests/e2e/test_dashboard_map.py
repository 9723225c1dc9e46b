"""The dashboard's map in a real browser: drawn from the api alone, a region's colour follows
detentions posted there, the station layer holds the registered stations with coordinates,
a click on a station opens its timeline; a screenshot is kept; the first draw of 10,000
stations is timed (printed, not asserted)."""
from __future__ import annotations

import random
import re
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import ARTIFACTS, LIVE_TIMEOUT_MS, browser, open_dashboard, page
from tests.factories import detention, envelope, unique
from tests.stack import Stack, wait_until

__all__ = ["browser", "page"]
ELECTION = "kz-2021-01-10"
TOP_COLOUR = "#ff5d5d"
"""The colour of the region holding the most of the measure (map.js ``RAMP``)."""


def registered(station_id: str, region: str, lon: float, lat: float,
               election: str = ELECTION) -> dict[str, Any]:
    return envelope("station.registered", {
        "number": 100 + len(station_id), "address": f"School of {station_id}", "region": region,
        "registered_voters": 1200, "lat": lat, "lon": lon}, station_id=station_id,
        election_id=election, occurred_at="2021-01-05T10:00:00+06:00", place={"region": region})


def map_points(stack: Stack, election: str = ELECTION) -> int:
    reply = stack.get("/v1/map/stations", election_id=election)
    assert reply.status_code == 200, reply.text
    return len(reply.json()["features"])


def drawn_stations(page: Page) -> int:
    """The stations the layer shows at this zoom: single markers plus the clusters' counts."""
    return int(page.evaluate("""() => {
        const map = document.querySelector('[data-testid=map]');
        const singles = map.querySelectorAll('path.map-station').length;
        const clustered = [...map.querySelectorAll('.marker-cluster span')]
          .reduce((sum, s) => sum + Number(s.textContent), 0);
        return singles + clustered;
    }"""))


def region(page: Page, name: str) -> Any:
    return page.locator(f'[data-testid="map-region"][data-region="{name}"]')


def test_the_map_is_drawn_from_the_api_alone_and_follows_detentions(stack: Stack,
                                                                   page: Page) -> None:
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    lone, others = unique("PS-AK"), [unique("PS-KR") for _ in range(6)]
    events = [registered(lone, "Mangystau", 51.17, 43.65)]
    events += [registered(s, "Karaganda", 73.0 + i / 50, 49.8 + i / 50)
               for i, s in enumerate(others)]
    assert stack.post_batch(events).status_code < 300
    wait_until(lambda: map_points(stack) >= 7)

    open_dashboard(page, stack, f"?election={ELECTION}")
    expect(region(page, "Kyzylorda")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(page.locator('[data-testid="map-region"]')).to_have_count(17)
    expect(region(page, "Shymkent")).to_have_attribute("data-drawn-as", "circle")
    expect(page.get_by_test_id("map-circles")).to_contain_text("Shymkent")
    for city in ("Almaty", "Nur-Sultan", "Shymkent"):  # specks at the country's scale: a dot
        expect(page.locator(f'[data-testid="map-city"][data-region="{city}"]')).to_have_count(1)
    total = map_points(stack)
    expect(page.get_by_test_id("map")).to_have_attribute("data-stations", str(total))
    wait_until(lambda: drawn_stations(page) == total, timeout=15)

    page.get_by_test_id("map-measure").select_option("detained_now")
    kyzylorda = region(page, "Kyzylorda")
    before = kyzylorda.get_attribute("fill")
    most = max(int(v) for v in page.locator('[data-testid="map-region"]').evaluate_all(
        "paths => paths.map(p => p.dataset.value)"))
    assert before != TOP_COLOUR, "Kyzylorda already holds the most detentions"
    assert stack.post(detention(unique("Baikonur"), most + 5, region="Kyzylorda")).status_code == 202
    expect(kyzylorda).to_have_attribute("fill", TOP_COLOUR, timeout=LIVE_TIMEOUT_MS)

    page.locator("path.map-station").first.click()
    expect(page.get_by_test_id("station-timeline-title")).to_contain_text(lone)
    kyzylorda.click()
    expect(page.get_by_test_id("station-region-filter")).to_have_value("Kyzylorda")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-map.png"
    page.get_by_test_id("map-panel").screenshot(path=str(shot))
    print(f"\nmap screenshot: {shot}")
    assert hosts == {urlsplit(stack.api_url).netloc}, f"requests to other hosts: {hosts}"


def test_first_draw_of_ten_thousand_stations(stack: Stack, page: Page) -> None:
    """Recorded, not asserted (speed goes in bench/): how long the map takes from asking for
    the stations to their clusters on screen."""
    election, rng, prefix = "kz-2023-03-19", random.Random(32), unique("MAP")
    events = [registered(f"{prefix}-{i:05d}", "Karaganda", rng.uniform(50, 85),
                         rng.uniform(41, 54), election) for i in range(10_000)]
    for start in range(0, len(events), 1000):
        assert stack.post_batch(events[start:start + 1000]).status_code < 300
    wait_until(lambda: map_points(stack, election) >= 10_000, timeout=180, interval=1)
    began = time.monotonic()
    open_dashboard(page, stack, f"?election={election}")
    box = page.get_by_test_id("map")
    expect(box).to_have_attribute("data-first-draw-ms", re.compile(r"^\d+$"),
                                  timeout=60_000)
    stations = int(box.get_attribute("data-stations") or 0)
    assert stations >= 10_000
    print(f"\nfirst draw of {stations} stations: {box.get_attribute('data-first-draw-ms')} ms "
          f"(request to clusters on screen); page opened and signed in after "
          f"{time.monotonic() - began:.1f} s")
