"""The demo scenarios: every event is valid and every expectation follows from the rules."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from saylau.catalogue import Catalogue
from saylau.domain.rules import (
    RuleConfig,
    breaches,
    detention_surge,
    surge_bucket_start,
    withdrawn_by,
    withdrawn_event_id,
)
from saylau.envelope import Envelope
from tests.unit.builders import calendars

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.json"))
CATALOGUE = Catalogue()
CONFIG = RuleConfig()


def load(path: Path) -> tuple[list[Envelope], dict[str, Any]]:
    doc = json.loads(path.read_text())
    return [Envelope.model_validate(e) for e in doc["events"]], doc["expect"]


def pairs(entries: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(entry["rule_id"], entry["event_id"]) for entry in entries}


def withdrawn_ids(events: list[Envelope]) -> set[str]:
    return {target for e in events if (target := withdrawn_event_id(e)) is not None}


def test_there_is_one_scenario_per_election() -> None:
    assert [p.stem for p in SCENARIOS] == sorted(calendars().elections)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_event_validates_against_its_schema(path: Path) -> None:
    events, _ = load(path)
    for event in events:
        assert CATALOGUE.validate(event.type, event.schema_version, event.payload) == [], event
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_event_belongs_to_the_scenarios_election(path: Path) -> None:
    events, _ = load(path)
    for event in events:
        election = calendars().for_event(event.election_id, event.occurred_at)
        assert election is not None and election.id == path.stem, event


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_reports_refer_to_earlier_events_of_the_scenario(path: Path) -> None:
    events, _ = load(path)
    seen: set[str] = set()
    for event in events:
        if event.type.startswith("report."):
            assert event.payload["event_id"] in seen
        seen.add(str(event.event_id))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_expected_breaches_are_exactly_what_the_rules_produce(path: Path) -> None:
    events, expect = load(path)
    produced = {(b.rule_id, b.event_ids[0])
                for e in events for b in breaches(e, calendars(), CONFIG)}
    assert produced == pairs(expect["breaches"])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_rejected_and_retracted_reports_withdraw_their_breaches(path: Path) -> None:
    events, expect = load(path)
    gone = withdrawn_ids(events)
    withdrawn = {(b.rule_id, b.event_ids[0]) for e in events
                 for b in breaches(e, calendars(), CONFIG)
                 if any(withdrawn_by(target, b.event_ids) for target in gone)}
    assert withdrawn == pairs(expect["withdrawn"])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_expected_surge_alerts(path: Path) -> None:
    events, expect = load(path)
    detained: dict[tuple[str, str | None, Any], list[Envelope]] = defaultdict(list)
    for e in events:
        if e.type == "detention.reported" and e.region:
            detained[(e.region, e.city, surge_bucket_start(e.occurred_at, CONFIG))].append(e)
    alerts = []
    for (region, city, bucket), group in detained.items():
        total = sum(e.payload["count"] for e in group)
        alert = detention_surge(region, city, bucket, total, [str(e.event_id) for e in group],
                                CONFIG)
        if alert is not None:
            alerts.append({"rule_id": alert.rule_id, "region": region, "city": city,
                           "bucket_start": bucket.isoformat(), "detained_in_bucket": total})
    assert alerts == expect["alerts"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_expected_detention_totals(path: Path) -> None:
    events, expect = load(path)
    field = {"detention.reported": "detained_total", "detention.released": "released_total"}
    totals: dict[str, dict[str, int]] = {}
    for e in events:
        if e.type in field and e.city:
            city = totals.setdefault(e.city, {"detained_total": 0, "released_total": 0})
            city[field[e.type]] += e.payload["count"]
    for city in totals.values():
        city["detained_now"] = city["detained_total"] - city["released_total"]
    assert totals == expect["detentions"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_expected_station_incidents(path: Path) -> None:
    events, expect = load(path)
    gone = withdrawn_ids(events)
    stations: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        incident = CATALOGUE.schemas[(e.type, e.schema_version)]["x-saylau"]["incident"]
        if e.station_id and incident and str(e.event_id) not in gone:
            stations[e.station_id][e.type] += 1
    assert {station: dict(c) for station, c in stations.items()} == expect["stations"]
