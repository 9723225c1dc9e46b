"""Protocol arithmetic, turnout jumps and over-registration, corroboration buckets."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from saylau.domain.breach import RuleConfig
from saylau.domain.corroboration import incident_bucket, incident_location
from saylau.domain.rules import breaches
from saylau.domain.turnout import StationSeries, TurnoutCount, turnout_alerts
from tests.unit.builders import PETROPAVLOVSK, calendars, event

CONFIG = RuleConfig(turnout_jump_share=0.15, turnout_jump_voters=300,
                    corroboration_window_minutes=30)
AT = datetime(2024, 3, 17, 4, 0, tzinfo=UTC)
PROTOCOL = {"voters_on_list": 2000, "ballots_issued": 1500, "ballots_cast": 1500,
            "invalid_ballots": 20, "votes": {"A": 1000, "B": 480}}


def protocol_rules(**changes: Any) -> list[str]:
    envelope = event("protocol.reported", "2024-03-17T21:00:00+05:00",
                     {**PROTOCOL, **changes}, station_id="PS-1", place=PETROPAVLOVSK)
    return sorted(b.rule_id for b in breaches(envelope, calendars(), CONFIG))


def test_a_protocol_that_adds_up_raises_nothing() -> None:
    assert protocol_rules() == []


@pytest.mark.parametrize(("invalid", "expected"), [
    (19, ["protocol.votes_do_not_add_up"]), (20, []), (21, ["protocol.votes_do_not_add_up"])])
def test_votes_plus_invalid_must_equal_ballots_cast(invalid: int, expected: list[str]) -> None:
    assert protocol_rules(invalid_ballots=invalid) == expected


@pytest.mark.parametrize(("issued", "expected"), [
    (2000, []), (2001, ["protocol.issued_exceeds_list"])])
def test_ballots_issued_may_not_exceed_the_list(issued: int, expected: list[str]) -> None:
    assert protocol_rules(ballots_issued=issued, ballots_cast=1500) == expected


@pytest.mark.parametrize(("issued", "expected"), [
    (1500, []), (1499, ["protocol.cast_exceeds_issued"])])
def test_more_ballots_in_the_boxes_than_issued(issued: int, expected: list[str]) -> None:
    assert protocol_rules(ballots_issued=issued) == expected


def counts(*pairs: tuple[int, int]) -> list[TurnoutCount]:
    return [TurnoutCount(hour, voters, f"e{hour}", AT.replace(hour=hour))
            for hour, voters in pairs]


def alerts(registered: int | None, *pairs: tuple[int, int]) -> list[str]:
    series = StationSeries("PS-1", "R", "C", registered, counts(*pairs))
    return [b.rule_id for b in turnout_alerts(series, CONFIG)]


@pytest.mark.parametrize(("at_12", "expected"), [(100 + 600, []),  # 15% of 1000 x 4 hours
                                                 (100 + 601, ["turnout.jump"])])
def test_jump_is_a_share_of_registered_voters_per_hour(at_12: int, expected: list[str]) -> None:
    assert alerts(1000, (8, 100), (12, at_12)) == expected


@pytest.mark.parametrize(("at_11", "expected"), [(300, []), (301, ["turnout.jump"])])
def test_without_registry_the_jump_is_in_voters_per_hour(at_11: int,
                                                         expected: list[str]) -> None:
    assert alerts(None, (10, 0), (11, at_11)) == expected


def test_counts_are_judged_in_hour_order_whatever_their_order() -> None:
    assert alerts(1000, (12, 500), (10, 401), (8, 100)) == ["turnout.jump"]


@pytest.mark.parametrize(("voters", "expected"), [(1000, []),
                                                  (1001, ["turnout.above_registered"])])
def test_more_voters_than_registered(voters: int, expected: list[str]) -> None:
    assert alerts(1000, (20, voters)) == expected


def test_alert_id_depends_on_station_and_hour_only() -> None:
    one = turnout_alerts(StationSeries("PS-1", "R", "C", None, counts((8, 0), (9, 900))), CONFIG)
    other = turnout_alerts(StationSeries("PS-1", "R", "C", None,
                                         [TurnoutCount(8, 10, "x", AT),
                                          TurnoutCount(9, 950, "y", AT)]), CONFIG)
    assert one[0].breach_id == other[0].breach_id and one[0].event_ids != other[0].event_ids


@pytest.mark.parametrize(("minute", "same"), [(0, True), (29, True), (30, False)])
def test_incidents_share_fixed_buckets(minute: int, same: bool) -> None:
    first, later = AT, AT.replace(minute=minute)
    assert (incident_bucket(first, CONFIG) == incident_bucket(later, CONFIG)) is same


def test_bucket_is_the_same_in_any_zone() -> None:
    local = datetime.fromisoformat("2024-03-17T09:10:00+05:00")
    assert incident_bucket(local, CONFIG) == AT


def test_location_is_the_station_else_the_place() -> None:
    at_station = event("ballot.stuffing_observed", "2024-03-17T09:00:00+05:00",
                       {"ballots": 3}, station_id="PS-1", place=PETROPAVLOVSK)
    in_city = event("detention.reported", "2024-03-17T09:00:00+05:00", {"count": 3},
                    place=PETROPAVLOVSK)
    assert incident_location(at_station) == "PS-1"
    assert incident_location(in_city) == "North Kazakhstan/Petropavlovsk"
