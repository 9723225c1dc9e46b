"""Coverage: silent stations by a fixed clock, and the folds of observers, presence and
last reports (order-independent)."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from saylau.domain.breach import RuleConfig
from saylau.domain.coverage import is_silent
from saylau.envelope import Envelope
from saylau.log.decode import Decoded, Message
from saylau.readmodels import coverage, observers, presence
from saylau.readmodels.base import Batch, Counted
from tests.unit.builders import calendars, event

CONFIG = RuleConfig()
ELECTION = calendars().get("kz-2023-03-19")
ASTANA, ORAL = "Astana", "West Kazakhstan"  # UTC+6 and UTC+5 in 2023


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def silent(now: str, last: str | None, region: str = ASTANA, minutes: int = 60) -> bool:
    assert ELECTION is not None
    return is_silent(ELECTION, region, last and utc(last), utc(now), minutes)


def test_an_open_station_unheard_for_an_hour_is_silent() -> None:
    assert silent("2023-03-19T10:00:00+06:00", "2023-03-19T08:59:00+06:00")
    assert not silent("2023-03-19T10:00:00+06:00", "2023-03-19T09:01:00+06:00")
    assert silent("2023-03-19T10:00:00+06:00", None)
    assert not silent("2023-03-19T10:00:00+06:00", "2023-03-19T09:30:00+06:00", minutes=31)


def test_no_station_is_silent_before_an_hour_of_voting_or_outside_voting_hours() -> None:
    assert not silent("2023-03-19T07:30:00+06:00", None)  # open for 30 minutes only
    assert silent("2023-03-19T08:00:00+06:00", None)
    assert not silent("2023-03-19T20:00:00+06:00", None)  # closed
    assert not silent("2023-03-19T06:59:00+06:00", None)
    assert not silent("2023-03-18T12:00:00+06:00", None)  # the day before


def test_opening_hours_are_the_local_time_of_the_stations_region() -> None:
    at = "2023-03-19T07:30:00+06:00"  # 06:30 in Oral: not open there yet
    assert not silent("2023-03-19T08:30:00+06:00", None, ORAL)
    assert silent("2023-03-19T08:30:00+06:00", None, ASTANA)
    assert not silent("2023-03-19T20:30:00+06:00", at, ASTANA)  # 20:30 in Astana: closed
    assert silent("2023-03-19T20:30:00+06:00", at, ORAL)  # 19:30 in Oral: still open


def assigned(at: str, key: str, *stations: str, who: str = "O1") -> Envelope:
    return event("observer.assigned", at, {"observer_id": who, "station_ids": list(stations)},
                 key=key)


def accredited(at: str, key: str, election: str | None = "kz-2023-03-19") -> Envelope:
    return event("observer.accredited", at, {"observer_id": "O1", "organisation": "El Dauysy",
                                             "name": "A", "station_id": "PS-1"},
                 election_id=election, key=key)


def counted(*events: Envelope) -> Batch:
    return Batch(counted=[Counted(e, 1, ()) for e in events])


def test_the_latest_assignment_replaces_the_set_in_any_order() -> None:
    events = [assigned("2023-03-01T09:00:00+06:00", "a", "PS-2", "PS-3"),
              assigned("2023-03-03T09:00:00+06:00", "c"),
              assigned("2023-03-02T09:00:00+06:00", "b", "PS-4")]
    for order in itertools.permutations(events):
        rows = observers.fold(counted(*order), CONFIG)
        assert rows.assignments["O1"][1] == []  # the empty list of the 3rd: unassigned


def test_an_accreditation_brings_its_election_and_a_later_one_replaces_it() -> None:
    first = accredited("2023-03-01T09:00:00+06:00", "a", None)
    second = accredited("2023-03-02T09:00:00+06:00", "b")
    for order in ([first, second], [second, first]):
        rows = observers.fold(counted(*order), CONFIG)
        assert rows.accreditations["O1"][4] == "kz-2023-03-19"
        assert rows.statuses["O1"][1:] == (True, None)


def test_a_revocation_keeps_its_reason() -> None:
    revoked = event("observer.accreditation_revoked", "2023-03-02T09:00:00+06:00",
                    {"observer_id": "O1", "reason": "certificate forged"})
    rows = observers.fold(counted(accredited("2023-03-01T09:00:00+06:00", "a"), revoked),
                          CONFIG)
    assert rows.statuses["O1"][1:] == (False, "certificate forged")


def moved(type_name: str, at: str, station: str) -> Envelope:
    return event(type_name, at, {"observer_id": "O1"}, station_id=station, key=station + at)


def test_she_is_where_her_latest_arrival_or_departure_says() -> None:
    arrived = moved("observer.arrived", "2023-03-19T06:30:00+06:00", "PS-1")
    left = moved("observer.departed", "2023-03-19T12:00:00+06:00", "PS-1")
    elsewhere = moved("observer.arrived", "2023-03-19T13:00:00+06:00", "PS-2")
    for order in itertools.permutations([arrived, left, elsewhere]):
        assert presence.fold(counted(*order), CONFIG)["O1"][1:3] == ("PS-2", True)
    for order in itertools.permutations([arrived, left]):
        assert presence.fold(counted(*order), CONFIG)["O1"][1:3] == ("PS-1", False)


def applied(*pairs: tuple[Envelope, str]) -> Batch:
    return Batch(applied=[Decoded(Message(0, i, b"{}"), {"received_at": received}, e)
                          for i, (e, received) in enumerate(pairs)])


def test_a_stations_last_report_is_the_latest_received_and_registry_facts_say_nothing() -> None:
    report = event("turnout.reported", "2023-03-19T10:00:00+06:00", {"hour": 10, "voters": 5},
                   station_id="PS-1", key="t")
    arrival = moved("observer.arrived", "2023-03-19T06:30:00+06:00", "PS-1")
    registered = event("station.registered", "2023-03-19T11:00:00+06:00", {
        "number": 1, "region": "Astana", "address": "School", "registered_voters": 10},
        station_id="PS-2")
    last = coverage.fold(applied((report, "2023-03-19T04:01:00+00:00"),
                                 (arrival, "2023-03-19T04:05:00+00:00"),
                                 (registered, "2023-03-19T05:00:00+00:00")), CONFIG)
    assert last == {"PS-1": utc("2023-03-19T04:05:00+00:00")}


def station(region: str | None, assigned: int, present: int, silent: bool) -> dict[str, Any]:
    return {"region": region, "observers_assigned": assigned, "observers_present": present,
            "silent": silent}


def test_region_totals_add_their_stations_up() -> None:
    totals = coverage.region_totals([station("Astana", 2, 1, False), station("Astana", 1, 0, True),
                                     station(None, 1, 1, False), station("Almaty", 0, 0, True)])
    assert totals == [
        {"region": "Almaty", "stations": 1, "assigned": 0, "present": 0, "silent": 1},
        {"region": "Astana", "stations": 2, "assigned": 3, "present": 1, "silent": 1},
        {"region": None, "stations": 1, "assigned": 1, "present": 1, "silent": 0}]
