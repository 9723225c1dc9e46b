"""The demo feed of `make up` only posts events the catalogue accepts."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from saylau.catalogue import Catalogue
from saylau.cli.demo import SCENARIOS, load_scenario, synthetic_report
from saylau.intake.validation import validate_item

NOW = datetime(2021, 1, 10, 12, 0, tzinfo=timezone(timedelta(hours=6)))


def test_synthetic_reports_are_valid() -> None:
    rng, catalogue = random.Random(7), Catalogue()
    kinds = set()
    for _ in range(300):
        report = synthetic_report(rng, NOW)
        checked = validate_item(report, catalogue, NOW)
        assert not isinstance(checked, list), (report, checked)
        kinds.add(report["type"])
    assert len(kinds) >= 4


def test_demo_scenario_is_valid() -> None:
    catalogue, later = Catalogue(), datetime(2030, 1, 1, tzinfo=UTC)
    for event in load_scenario(SCENARIOS / "kz-2021-01-10.json"):
        assert not isinstance(validate_item(event, catalogue, later), list), event


def test_the_quick_count_feed_is_valid_and_tells_the_63_percent_story() -> None:
    from saylau.cli import demo_quickcount as qc
    catalogue, later = Catalogue(), datetime(2030, 1, 1, tzinfo=UTC)
    stations = qc.stations()
    events = [*stations, *qc.station_reports(stations[0]), qc.announcement()]
    for event in events:
        assert not isinstance(validate_item(event, catalogue, later), list), event
    assert len(stations) == 400 and qc.announcement()["payload"]["turnout_percent"] == 63.3
    assert qc.station_reports(stations[0]) == qc.station_reports(stations[0])  # same ids again


def test_the_demo_stations_stand_in_kazakhstan_so_a_new_user_sees_a_populated_map() -> None:
    from saylau.cli import demo_quickcount as qc
    for station in qc.stations():
        p = station["payload"]
        assert 46.4 <= p["lon"] <= 87.4 and 40.5 <= p["lat"] <= 55.5, station["station_id"]
