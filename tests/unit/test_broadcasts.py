"""Messages to observers: whom a broadcast may address, and who may post its events."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from saylau.domain.broadcasts import (
    Addressed,
    NotAddressable,
    address,
    canonical_regions,
    only_region,
)
from saylau.domain.calendar import Calendars
from saylau.domain.roles import NATIONAL, Reach
from saylau.envelope import Envelope
from saylau.intake.service import Intake
from saylau.readmodels import READ_MODELS
from saylau.readmodels.base import Batch, Counted
from saylau.readmodels.broadcasts import fold
from tests.factories import envelope
from tests.unit.test_intake import FakePool, FakeProducer, intake
from tests.unit.test_observer_rules import AT_660, refused

NORTH = Reach(frozenset({"North Kazakhstan"}))
STATIONS = {"PS-1": "North Kazakhstan", "PS-2": "Pavlodar", "PS-3": None}
MESSAGE = "3f0c8d52-5a43-4c2e-9a59-2f1e8a0c7b11"


@pytest.fixture
def service() -> Intake:
    return intake(FakePool(), FakeProducer())


def test_region_spellings_are_their_canonical_names_and_unknown_ones_are_named() -> None:
    found, unknown = canonical_regions(["Turkestan", "Turkistan", "Astana", "Atlantis"],
                                       Calendars.load(), datetime(2023, 3, 19, 12, tzinfo=UTC))
    assert found == ["Turkistan", "Astana"] and unknown == ["Atlantis"]  # the 2023 name first


def test_a_coordinator_addresses_her_regions_and_their_stations_only() -> None:
    assert address(NORTH, ["North Kazakhstan"], STATIONS, ["PS-1"]) == Addressed(
        ("North Kazakhstan",), ("PS-1",))
    assert address(NORTH, [], STATIONS, []) == Addressed(("North Kazakhstan",))
    assert address(NORTH, ["Pavlodar"], STATIONS, []) == NotAddressable(
        403, "regions", "not one of your regions (North Kazakhstan): Pavlodar")
    for station in ("PS-2", "PS-3"):  # another region's, or of no region
        refused_at = address(NORTH, [], STATIONS, [station])
        assert isinstance(refused_at, NotAddressable)
        assert (refused_at.status, refused_at.field) == (403, "station_ids")


def test_an_admin_addresses_anywhere_and_neither_means_the_whole_country() -> None:
    assert address(NATIONAL, [], STATIONS, []).national  # type: ignore[union-attr]
    assert address(NATIONAL, ["Pavlodar"], STATIONS, ["PS-2", "PS-2"]) == Addressed(
        ("Pavlodar",), ("PS-2",))
    unknown = address(NATIONAL, [], STATIONS, ["PS-9"])
    assert unknown == NotAddressable(422, "station_ids", "not in the station registry: PS-9")


def test_a_broadcast_is_placed_in_its_one_region_only() -> None:
    assert only_region(Addressed(("Pavlodar",), ("PS-2",)), STATIONS) == "Pavlodar"
    assert only_region(Addressed(("North Kazakhstan",), ("PS-2",)), STATIONS) is None
    assert only_region(Addressed(), STATIONS) is None
    assert only_region(Addressed((), ("PS-3",)), STATIONS) is None


def test_a_broadcast_is_sent_with_its_route_only(service: Intake) -> None:
    sent = envelope("broadcast.sent", {"text": {"en": "hi"}, "sender": "dana", "observer_ids": []})
    refused_item = service.check([sent], frozenset({"broadcast", "ingest", "admin"}))
    assert refused_item.outcomes[0] is not None and refused_item.outcomes[0].code == 403
    assert "POST /v1/broadcasts" in refused_item.outcomes[0].errors[0].msg
    assert service.check([sent], frozenset({"broadcast"}), broadcast=True).pending


def test_only_her_token_marks_a_message_read_in_her_name(service: Intake) -> None:
    read = envelope("broadcast.read", {"broadcast_id": MESSAGE, "observer_id": "ED-0412"},
                    **AT_660)
    assert refused(service, read) == (0, [])
    code, (loc, _) = refused(service, {**read, "payload": {"broadcast_id": MESSAGE,
                                                           "observer_id": "ED-0001"}})
    assert code == 403 and loc == ("payload", "observer_id")
    by_key = service.check([read], frozenset({"ingest", "admin"})).outcomes[0]
    assert by_key is not None and by_key.code == 403 and "observer app" in by_key.errors[0].msg


def test_a_read_counts_once_per_observer_at_her_first_reading() -> None:
    def counted(payload: dict[str, str], at: str) -> Counted:
        return Counted(Envelope.model_validate(envelope("broadcast.read", payload,
                                                        occurred_at=at)), 1, ())
    mine = {"broadcast_id": MESSAGE.upper(), "observer_id": "ED-0412"}
    rows = fold(Batch(counted=[counted(mine, "2021-01-10T12:00:00+06:00"),
                               counted(mine, "2021-01-10T11:00:00+06:00")]), None)  # type: ignore[arg-type]
    assert list(rows.reads) == [(MESSAGE, "ED-0412")]
    assert rows.reads[(MESSAGE, "ED-0412")].hour == 11


def test_whom_a_broadcast_reached_is_in_its_event_so_order_never_matters() -> None:
    sent = Envelope.model_validate(envelope("broadcast.sent", {
        "text": {"en": "hi"}, "sender": "dana", "observer_ids": ["ED-1", "ED-2"],
        "regions": ["Pavlodar"], "regions_reached": ["Pavlodar"]}))
    rows = fold(Batch(counted=[Counted(sent, 1, ())]), None)  # type: ignore[arg-type]
    assert rows.recipients == [(sent.event_id, "ED-1"), (sent.event_id, "ED-2")]
    assert rows.sent[0][-1] == ["Pavlodar"]
    assert not next(m for m in READ_MODELS if m.name == "broadcasts").after
