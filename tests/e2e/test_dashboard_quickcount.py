"""The dashboard's quick-count panel in a real browser: estimate, official line, region rows."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from saylau.domain.quickcount import FrameStation, draw_sample
from services.ingest.routes.quickcount import sample_event
from tests.e2e.test_dashboard import LIVE_TIMEOUT_MS, browser, open_dashboard, page
from tests.factories import envelope, unique
from tests.stack import Stack

__all__ = ["browser", "page"]


def test_quick_count_panel_shows_the_estimate_and_the_official_line(stack: Stack,
                                                                     page: Page) -> None:
    election, north, south = unique("qc").lower(), unique("North"), unique("South")
    frame = [FrameStation(f"{region}-{i}", region, 1000) for region in (north, south)
             for i in range(3)]
    sample = draw_sample(frame, 4, 11, election_id=election, drawn_at=datetime.now(UTC))
    events = [envelope("station.registered", {"number": n + 1, "address": "School",
                                              "region": s.region, "registered_voters": 1000},
                       station_id=s.station_id) for n, s in enumerate(frame)]
    events.append(sample_event(sample))
    events += [envelope("turnout.reported", {"hour": 20, "voters": 400 + 20 * n},
                        station_id=s, place={"region": s.rsplit("-", 1)[0]}, election_id=election)
               for n, s in enumerate(sample.station_ids)]
    events.append(envelope("official.results_announced", {
        "level": "national", "turnout_percent": 63.3, "source": "CEC"}, election_id=election))
    assert {r["code"] for r in stack.post_batch(events).json()["results"]} == {202}

    open_dashboard(page, stack, f"?election={election}")
    panel = page.get_by_test_id("quickcount")
    expect(panel.get_by_test_id("quickcount-status")).to_contain_text(
        "4 of 4", timeout=LIVE_TIMEOUT_MS)
    expect(panel.get_by_test_id("quickcount-official")).to_have_text("63.3 %")
    expect(panel.get_by_test_id("quickcount-estimate")).to_have_text(re.compile(r"^4\d\.\d %"))
    expect(panel.locator("[data-testid=quickcount-regions] tbody tr")).to_have_count(2)
    expect(panel.locator(".qc-official")).to_have_count(1)
    expect(panel.locator(".qc-band")).to_have_count(1)
    expect(panel.get_by_test_id("quickcount-discrepancies")).to_contain_text("63.3 %")
