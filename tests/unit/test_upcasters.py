"""Upcasters bring every stored payload to its type's latest schema version."""
from __future__ import annotations

import pytest

from saylau.catalogue import Catalogue
from saylau.domain.upcasters import UPCASTERS, latest_version, upcast

CATALOGUE = Catalogue()
V1_DETENTION = {"count": 2, "persons": ["Zhanat Reimov", "Zhaslan Kazanov"], "reason": "campaigning"}


def test_detention_v1_names_become_persons_with_an_unspecified_role() -> None:
    version, payload = upcast("detention.reported", 1, V1_DETENTION)
    assert version == 2
    assert payload["persons"] == [{"name": "Zhanat Reimov", "role": "unspecified"},
                                  {"name": "Zhaslan Kazanov", "role": "unspecified"}]
    assert (payload["count"], payload["reason"]) == (2, "campaigning")


def test_upcast_payload_is_valid_at_the_latest_version() -> None:
    for payload in (V1_DETENTION, {"count": 70}):
        version, upcast_payload = upcast("detention.reported", 1, payload)
        assert CATALOGUE.validate("detention.reported", version, upcast_payload) == []


def test_upcasting_never_modifies_the_stored_payload() -> None:
    stored = {"count": 1, "persons": ["A"]}
    upcast("detention.reported", 1, stored)
    assert stored == {"count": 1, "persons": ["A"]}


def test_latest_payloads_and_unversioned_types_pass_through() -> None:
    v2 = {"count": 1, "persons": [{"name": "A", "role": "journalist"}]}
    assert upcast("detention.reported", 2, v2) == (2, v2)
    assert upcast("ballot.stuffing_observed", 1, {"ballots": 3}) == (1, {"ballots": 3})


@pytest.mark.parametrize("type_name", CATALOGUE.types)
def test_every_type_upcasts_to_the_catalogues_latest_version(type_name: str) -> None:
    assert latest_version(type_name) == CATALOGUE.latest_version(type_name)


@pytest.mark.parametrize(("type_name", "version"), sorted(UPCASTERS))
def test_every_upcaster_links_two_catalogued_versions(type_name: str, version: int) -> None:
    assert (type_name, version) in CATALOGUE.schemas
    assert (type_name, version + 1) in CATALOGUE.schemas


@pytest.mark.parametrize(("type_name", "version"), sorted(CATALOGUE.schemas))
def test_every_catalogued_example_upcasts_to_a_valid_latest_payload(type_name: str,
                                                                    version: int) -> None:
    for example in CATALOGUE.schemas[(type_name, version)]["examples"]:
        latest, payload = upcast(type_name, version, example)
        assert CATALOGUE.validate(type_name, latest, payload) == []
