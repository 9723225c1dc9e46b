"""A station's events are in its registry region, as the log held it when each came, else in
the region they name (issue 31): every read model that stores or groups by region agrees.
Pure: the registry entries a batch starts from are given, as the store would read them."""
from __future__ import annotations

import uuid

from saylau.catalogue import catalogue
from saylau.domain.checklists import checklist_book
from saylau.domain.regions import station_region
from saylau.domain.rules import RuleConfig
from saylau.envelope import Envelope
from saylau.log.decode import Decoded, Message
from saylau.readmodels import breaches, detentions, events, stations, timeline
from saylau.readmodels.base import Batch
from saylau.readmodels.batch import Planner
from saylau.readmodels.placing import Registered, StationRegions
from saylau.readmodels.region_moves import RegionMoves
from saylau.readmodels.registry import stamp
from tests.unit.builders import calendars, event

PLANNER = Planner(catalogue(), calendars(), RuleConfig(), checklist_book())
ATYRAU = {"region": "Atyrau", "city": "Atyrau"}


def registered(station: str, region: str, minute: int) -> Envelope:
    return event("station.registered", f"2021-01-10T07:{minute:02d}:00+06:00",
                 {"number": 7, "address": "School 7", "region": region, "registered_voters": 900},
                 station_id=station, key=f"{station}{region}")


def stuffing(station: str, minute: int, place: dict[str, str] | None = None) -> Envelope:
    return event("ballot.stuffing_observed", f"2021-01-10T11:{minute:02d}:00+06:00",
                 {"ballots": 30}, station_id=station, place=place, key=station)


def applied(*evs: Envelope) -> list[Decoded]:
    return [Decoded(Message(0, i, b"{}"), {"partner": "p"}, e) for i, e in enumerate(evs)]


def plan(*evs: Envelope, stored: Registered | None = None) -> Batch:
    return PLANNER.plan(applied(*evs), {}, stored)


def entry(e: Envelope) -> tuple[str, str]:
    return stamp(e), e.payload["region"]


def regions(batch: Batch) -> dict[uuid.UUID, str | None]:
    return {row[0]: row[7] for row in events.fold(batch, RuleConfig())[0]}


def test_the_registry_entry_wins_else_the_place_the_report_names() -> None:
    assert station_region("Almaty", "Atyrau") == "Almaty"
    assert station_region(None, "Atyrau") == "Atyrau"
    assert station_region(None, None) is None


def test_a_report_naming_only_its_station_is_in_its_stored_registry_region() -> None:
    report = stuffing("PS-1", 1)
    batch = plan(report, stored={"PS-1": entry(registered("PS-1", "Almaty", 0))})
    assert regions(batch) == {report.event_id: "Almaty"}
    assert batch.applied[0].event.city is None and batch.applied[0].event.station_id == "PS-1"


def test_a_registration_earlier_in_the_batch_places_the_reports_after_it_only() -> None:
    before, registry, after = stuffing("PS-2", 1), registered("PS-2", "Aktobe", 2), \
        stuffing("PS-2", 3, place=ATYRAU)
    assert regions(plan(before, registry, after)) == {
        before.event_id: None, registry.event_id: "Aktobe", after.event_id: "Aktobe"}


def test_the_registry_is_last_writer_wins_by_stamp_as_its_table_is() -> None:
    later, earlier = registered("PS-3", "Almaty", 30), registered("PS-3", "Aktobe", 10)
    walk = StationRegions({"PS-3": entry(later)})
    walk.register(earlier)  # an older correction arriving late changes nothing
    assert walk.registered["PS-3"][1] == "Almaty"


def test_an_unregistered_station_keeps_the_region_its_report_names() -> None:
    report = stuffing("PS-4", 1, place=ATYRAU)
    assert regions(plan(report)) == {report.event_id: "Atyrau"}


def test_batch_boundaries_do_not_change_where_a_report_is() -> None:
    log = [stuffing("PS-5", 1), registered("PS-5", "Aktobe", 2), stuffing("PS-6", 3),
           registered("PS-5", "Almaty", 4), stuffing("PS-5", 5)]
    whole = regions(plan(*log))
    split: dict[uuid.UUID, str | None] = {}
    stored: Registered = {}
    for part in (log[:2], log[2:4], log[4:]):
        batch = plan(*part, stored=dict(stored))
        split |= regions(batch)
        stored |= {e.station_id: entry(e) for e in part if e.type == "station.registered"
                   and e.station_id}
    assert split == whole
    assert list(whole.values()) == [None, "Aktobe", None, "Almaty", "Almaty"]


def test_every_read_model_by_region_takes_the_registry_region() -> None:
    report = stuffing("PS-7", 1)
    detained = event("detention.reported", "2021-01-10T11:02:00+06:00", {"count": 2},
                     station_id="PS-7", key="PS-7")
    batch = plan(registered("PS-7", "Aktobe", 0), report, detained)
    config = RuleConfig()
    found, _ = breaches.fold(batch, config)
    assert found and {b.region for b in found} == {"Aktobe"}
    assert {region for region, _ in timeline.fold(batch, config)[1]} == {"Aktobe"}
    assert stations.fold(batch, config).stations["PS-7"][0] == "Aktobe"
    assert {region for region, _city in detentions.fold(batch, config).city_detentions} == {"Aktobe"}


def test_a_withdrawn_report_is_taken_back_in_the_region_it_was_counted_in() -> None:
    report = event("detention.reported", "2021-01-10T11:00:00+06:00", {"count": 2},
                   station_id="PS-8", key="PS-8")
    retraction = event("report.retracted", "2021-01-10T11:30:00+06:00",
                       {"event_id": str(report.event_id)})
    batch = PLANNER.plan(applied(retraction), {report.event_id: (report, "unverified", "Aktobe")})
    assert [(c.sign, c.event.region) for c in batch.counted] == [(-1, "Aktobe")]


def test_a_station_moved_to_its_registry_region_recounts_both() -> None:
    moves = RegionMoves()
    moves.moved("Aktobe", "Almaty")
    moves.moved(None, "Atyrau")  # its reports so far named no region
    assert moves.recount == {"Aktobe", "Almaty", "Atyrau"} and not moves.moves


def test_a_stations_row_takes_its_registry_region_over_what_earlier_reports_named() -> None:
    before, registry, after = stuffing("PS-9", 1, place=ATYRAU), registered("PS-9", "Aktobe", 2), \
        stuffing("PS-9", 3)
    rows = stations.fold(plan(before, registry, after), RuleConfig())
    assert rows.registered == {"PS-9": "Aktobe"} and rows.stations["PS-9"][0] == "Aktobe"
    unregistered = stations.fold(plan(stuffing("PS-10", 1, place=ATYRAU), stuffing(
        "PS-10", 2, place={"region": "Aktobe"})), RuleConfig())
    assert unregistered.stations["PS-10"][0] == "Atyrau" and not unregistered.registered


def test_an_event_pointing_at_a_report_keeps_taking_its_region() -> None:
    report = stuffing("PS-11", 1, place=ATYRAU)
    claim = event("triage.claimed", "2021-01-10T11:05:00+06:00",
                  {"event_id": str(report.event_id), "operator": "d"}, station_id="PS-12")
    batch = PLANNER.plan(applied(claim), {report.event_id: (report, "unverified", "Atyrau")},
                         {"PS-12": entry(registered("PS-12", "Aktobe", 0))})
    assert regions(batch) == {claim.event_id: "Atyrau"}
