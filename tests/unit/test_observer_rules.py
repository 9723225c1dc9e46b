"""What an observer's token may post, decided in the intake's one check for every route."""
from __future__ import annotations

from typing import Any

import pytest

from saylau.catalogue import catalogue
from saylau.domain.observers import ObserverGrant, may_post, stations_of
from saylau.intake.service import Intake
from tests.factories import detention, envelope
from tests.unit.test_intake import FakePool, FakeProducer, intake

ALINA = ObserverGrant("ED-0412", "kz-2023-03-19", frozenset({"PS-660", "PS-661"}))
AT_660 = {"station_id": "PS-660", "place": {"region": "North Kazakhstan"}}


def refused(service: Intake, item: dict[str, Any]) -> tuple[int, list[Any]]:
    """(status, the first error's loc and msg) of ``item`` checked for Alina's token."""
    checked = service.check([item], frozenset({"observer"}), ALINA)
    outcome = checked.outcomes[0]
    if outcome is None:
        return 0, []
    return outcome.code, [outcome.errors[0].loc, outcome.errors[0].msg]


@pytest.fixture
def service() -> Intake:
    return intake(FakePool(), FakeProducer())


@pytest.mark.parametrize("item", [
    envelope("ballot.stuffing_observed", {"ballots": 3}, **AT_660),
    envelope("checklist.submitted", {"checklist_id": "voting", "version": 1,
                                     "observer_id": "ED-0412", "answers": {
                                         "secrecy_ensured": True, "ink_or_id_checked": True,
                                         "group_voting_seen": False, "unauthorised_persons": 0,
                                         "photo_video_allowed": "yes"}}, **AT_660),
    envelope("turnout.reported", {"hour": 10, "voters": 120}, **AT_660),
    envelope("observer.arrived", {"observer_id": "ED-0412"}, **AT_660),
    detention("Petropavlovsk", 2),  # a place-keyed report: anywhere
    envelope("evidence.attached", {"event_id": "3f0c8d52-5a43-4c2e-9a59-2f1e8a0c7b11",
                                   "evidence": [{"sha256": "a" * 64}]}),
])
def test_her_field_reports_pass(service: Intake, item: dict[str, Any]) -> None:
    assert refused(service, item) == (0, [])


@pytest.mark.parametrize("type_name, payload", [
    ("station.registered", {"number": 1, "region": "Almaty", "address": "School 1",
                            "registered_voters": 100}),
    ("observer.accredited", {"observer_id": "ED-0412", "organisation": "X", "name": "A"}),
    ("observer.assigned", {"observer_id": "ED-0412", "station_ids": ["PS-9"]}),
    ("report.verified", {"event_id": "3f0c8d52-5a43-4c2e-9a59-2f1e8a0c7b11"}),
    ("triage.claimed", {"event_id": "3f0c8d52-5a43-4c2e-9a59-2f1e8a0c7b11"}),
    ("turnout.announced", {"hour": 10, "percent": 20.5}),
])
def test_registry_official_and_triage_types_are_refused_naming_the_type(
        service: Intake, type_name: str, payload: dict[str, Any]) -> None:
    code, (loc, msg) = refused(service, envelope(type_name, payload, **AT_660))
    assert code == 403 and loc == ("type",) and type_name in msg


def test_a_station_not_hers_is_refused_naming_the_station(service: Intake) -> None:
    item = envelope("ballot.stuffing_observed", {"ballots": 3}, station_id="PS-9",
                    place={"region": "Almaty"})
    code, (loc, msg) = refused(service, item)
    assert code == 403 and loc == ("station_id",) and "'PS-9'" in msg and "PS-660" in msg


def test_another_observers_id_is_refused_naming_the_field(service: Intake) -> None:
    code, (loc, msg) = refused(service, envelope("observer.arrived", {"observer_id": "ED-0001"},
                                                 **AT_660))
    assert code == 403 and loc == ("payload", "observer_id") and "ED-0001" in msg


def test_another_election_is_refused_naming_the_field(service: Intake) -> None:
    item = envelope("turnout.reported", {"hour": 10, "voters": 1}, election_id="kz-2021-01-10",
                    **AT_660)
    code, (loc, _) = refused(service, item)
    assert code == 403 and loc == ("election_id",)


def test_an_arrival_needs_its_station(service: Intake) -> None:
    checked = service.check([envelope("observer.arrived", {"observer_id": "ED-0412"},
                                      place={"region": "Almaty"})], frozenset(), ALINA)
    assert checked.outcomes[0] is not None and checked.outcomes[0].code == 422
    assert checked.outcomes[0].errors[0].loc == ("station_id",)


async def test_the_server_names_her_as_the_partner() -> None:
    producer = FakeProducer()
    service = intake(FakePool(), producer)
    item = envelope("observer.arrived", {"observer_id": "ED-0412"}, **AT_660)
    [outcome] = await service.submit([item], ALINA.partner, frozenset({"observer"}), ALINA)
    assert outcome.code == 202 and b'"partner":"observer:ED-0412"' in producer.sent[0]


def test_her_stations_are_the_accreditations_and_the_latest_assignment() -> None:
    assert stations_of("PS-1", ["PS-2", "PS-1"]) == {"PS-1", "PS-2"}
    assert stations_of("PS-1", []) == {"PS-1"} and stations_of(None, None) == frozenset()


def test_every_incident_type_in_the_field_may_be_posted() -> None:
    types = catalogue()
    field = [t for t in types.types if types.scope(t) in ("station", "place", "campaign")
             and t not in ("turnout.announced",)]
    assert all(may_post(t, types.scope(t)) for t in field)
    assert not any(may_post(t, types.scope(t)) for t in types.types
                   if types.scope(t) in ("registry", "log"))


def test_an_observer_token_without_its_grant_posts_nothing(service: Intake) -> None:
    checked = service.check([detention("Petropavlovsk", 2)], frozenset({"observer"}))
    assert checked.outcomes[0] is not None and checked.outcomes[0].code == 403
