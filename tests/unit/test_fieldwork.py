"""Field projections merge order-independently: registry by stamp, incidents as id sets."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from saylau.catalogue import Catalogue
from saylau.domain.breach import RuleConfig
from saylau.domain.checklists import checklist_book
from saylau.envelope import Envelope
from saylau.readmodels import incidents, observers, registry, stations, turnout
from saylau.readmodels.base import Batch, Counted
from saylau.readmodels.batch import incident_types
from tests.unit.builders import PETROPAVLOVSK, event

CONFIG = RuleConfig(corroboration_window_minutes=30)
CATALOGUE = Catalogue()
CHECKLISTS = checklist_book()
REGISTERED = {"number": 660, "address": "School 12", "region": "North Kazakhstan",
              "registered_voters": 2000}


@dataclass
class FieldRows:
    """The field read models' folds of one batch, side by side."""

    details: dict[str, Any]
    locations: dict[str, Any]
    accreditations: dict[str, Any]
    statuses: dict[str, Any]
    groups: dict[Any, incidents.Group]
    turnout_stations: set[str]


@dataclass
class Folded:
    stations: dict[str, Any]
    station_incidents: dict[Any, int]
    fieldwork: FieldRows


def fold(events: list[Envelope], signs: list[int] | None = None) -> Folded:
    batch = Batch(counted=[Counted(e, sign, tuple(incident_types(e, CATALOGUE, CHECKLISTS)))
                           for e, sign in zip(events, signs or [1] * len(events), strict=True)])
    at_stations, registered = stations.fold(batch, CONFIG), registry.fold(batch, CONFIG)
    accredited = observers.fold(batch, CONFIG)
    field = FieldRows(registered.details, registered.locations, accredited.accreditations,
                      accredited.statuses, incidents.fold(batch, CONFIG),
                      turnout.fold(batch, CONFIG).stations)
    return Folded(at_stations.stations, at_stations.station_incidents, field)


def registry_events() -> list[Envelope]:
    return [event("station.registered", "2024-03-01T09:00:00+05:00", REGISTERED,
                  station_id="PS-1", key="a"),
            event("station.moved", "2024-03-10T09:00:00+05:00", {"address": "Club"},
                  station_id="PS-1", key="b"),
            event("station.registered", "2024-03-05T09:00:00+05:00",
                  {**REGISTERED, "registered_voters": 2100, "address": "School 14"},
                  station_id="PS-1", key="c")]


def test_registry_takes_each_part_from_its_latest_event_in_any_order() -> None:
    results = set()
    for order in itertools.permutations(registry_events()):
        fw = fold(list(order)).fieldwork
        results.add((fw.details["PS-1"][1:], fw.locations["PS-1"][1:]))
    assert results == {((660, "North Kazakhstan", None, None, 2100), ("Club", None, None))}


def accreditation(at: str, key: str, **payload: Any) -> Envelope:
    return event("observer.accredited", at, {"observer_id": "O1", "organisation": "El Dauysy",
                                             "name": "A", **payload}, key=key)


def test_a_later_revocation_stands_whatever_the_arrival_order() -> None:
    granted = accreditation("2024-03-01T09:00:00+05:00", "a", station_id="PS-1")
    revoked = event("observer.accreditation_revoked", "2024-03-02T09:00:00+05:00",
                    {"observer_id": "O1"})
    for order in ([granted, revoked], [revoked, granted]):
        fw = fold(order).fieldwork
        assert fw.statuses["O1"][1] is False and fw.accreditations["O1"][3] == "PS-1"


def stuffing(at: str, key: str, station: str = "PS-1") -> Envelope:
    return event("ballot.stuffing_observed", at, {"ballots": 3}, station_id=station,
                 place=PETROPAVLOVSK, key=key)


def test_reports_in_one_bucket_are_one_incident_with_both_ids() -> None:
    a, b = stuffing("2024-03-17T09:01:00+05:00", "a"), stuffing("2024-03-17T09:29:00+05:00", "b")
    c = stuffing("2024-03-17T09:30:00+05:00", "c")
    groups = fold([a, b, c]).fieldwork.groups
    assert sorted(len(g.ids) for g in groups.values()) == [1, 2]


def test_withdrawn_report_leaves_no_trace_in_the_batch() -> None:
    a = stuffing("2024-03-17T09:01:00+05:00", "a")
    [group] = fold([a, a], [1, -1]).fieldwork.groups.values()
    assert group.ids == {str(a.event_id): 0}


def test_checklist_violations_count_as_incidents_at_the_station() -> None:
    answers = {"observers_admitted": "none", "ballot_box_sealed": False,
               "voter_list_available": True, "commission_members_present": 7}
    checklist = event("checklist.submitted", "2024-03-17T06:30:00+05:00",
                      {"checklist_id": "opening", "version": 1, "answers": answers},
                      station_id="PS-1", place=PETROPAVLOVSK)
    deltas = fold([checklist])
    assert dict(deltas.station_incidents) == {
        ("PS-1", "checklist.violation:opening.observers_admitted"): 1,
        ("PS-1", "checklist.violation:opening.ballot_box_sealed"): 1}
    assert deltas.stations["PS-1"][2] == 2 and len(deltas.fieldwork.groups) == 2


def test_turnout_and_registration_mark_the_station_for_re_evaluation() -> None:
    counted = event("turnout.reported", "2024-03-17T10:00:00+05:00", {"hour": 10, "voters": 5},
                    station_id="PS-9", place=PETROPAVLOVSK)
    assert fold([counted], [-1]).fieldwork.turnout_stations == {"PS-9"}
