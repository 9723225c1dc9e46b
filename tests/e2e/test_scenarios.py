"""The seed scenarios posted over HTTP produce the expected counts and breaches in the API."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.stack import ROOT, Stack, wait_until

SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))


@pytest.fixture(scope="module")
def scenario_stack() -> Iterator[Stack]:
    running = Stack().start()
    yield running
    running.stop()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_through_http(scenario_stack: Stack, path: Path) -> None:
    scenario = json.loads(path.read_text())
    for event in scenario["events"]:
        reply = scenario_stack.post(event)
        assert reply.status_code in (200, 202), (event["type"], reply.text)
    expect = scenario["expect"]
    for event in scenario["events"]:  # partitions apply independently: wait for every one
        wait_until(lambda e=event: scenario_stack.get(f"/v1/events/{e['event_id']}")
                   .status_code == 200)
    breaches = scenario_stack.walk("/v1/breaches", "breaches")
    assert_breaches(breaches, expect)
    assert_detentions(scenario_stack, expect.get("detentions", {}))
    for station_id, incidents in expect.get("stations", {}).items():
        assert scenario_stack.get(f"/v1/stations/{station_id}").json()["incidents"] == incidents


def assert_breaches(breaches: list[dict[str, Any]], expect: dict[str, Any]) -> None:
    def statuses(rule_id: str, event_id: str) -> set[str]:
        return {b["status"] for b in breaches
                if b["rule_id"] == rule_id and event_id in b["event_ids"]}

    withdrawn = {(w["rule_id"], w["event_id"]) for w in expect.get("withdrawn", [])}
    for b in expect["breaches"]:
        wanted = "withdrawn" if (b["rule_id"], b["event_id"]) in withdrawn else "open"
        assert statuses(b["rule_id"], b["event_id"]) == {wanted}, b
    for alert in expect.get("alerts", []):
        assert any(b["rule_id"] == alert["rule_id"] and b["place"]["city"] == alert["city"]
                   and b["status"] == "open" for b in breaches), alert
    legal = [b for b in breaches if b["legal_ref"]]
    assert all({"code", "article", "part", "text"} <= set(b["legal_ref"]) for b in legal)


def assert_detentions(stack: Stack, expected: dict[str, dict[str, int]]) -> None:
    cities = {c["city"]: c for c in stack.get("/v1/detentions").json()["cities"]}
    for city, counts in expected.items():
        assert {k: cities[city][k] for k in counts} == counts, city
