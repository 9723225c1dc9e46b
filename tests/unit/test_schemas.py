"""The event catalogue: valid draft 2020-12 schemas, bounded, with examples and x-saylau."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from saylau.catalogue import SCHEMA_DIR, Catalogue
from saylau.envelope import Envelope, Place

ENVELOPE_SCHEMA = SCHEMA_DIR.parent / "envelope.v1.json"
PATHS = sorted(SCHEMA_DIR.glob("*.v*.json"))
SCOPES = {"station", "place", "campaign", "report", "registry", "message", "log"}
CATALOGUE_TYPES = {
    "message.received", "chain.checkpointed",
    "station.opened", "station.closed", "observer.access_denied", "observer.expelled",
    "ballot.stuffing_observed", "unauthorised_person.present", "ballot_box.seal_broken",
    "count.procedure_violated", "voter.turned_away", "voter_list.irregularity",
    "photo_video.prohibited", "detention.reported", "detention.released", "protest.kettled",
    "journalist.obstructed", "internet.disruption", "campaigning.observed", "poll.published",
    "campaign_material.anonymous", "campaign_material.damaged", "campaigning.inducement",
    "campaigning.obstructed", "campaigning.by_commission_member",
    "media.campaign_terms_unreported", "candidate.registration_cancelled",
    "prosecutor.summons", "fine.imposed", "report.verified", "report.rejected",
    "report.retracted", "triage.claimed", "triage.escalated", "triage.commented",
    "station.registered", "station.moved", "observer.accredited",
    "observer.accreditation_revoked", "observer.assigned", "observer.arrived",
    "observer.departed", "checklist.submitted", "turnout.reported",
    "turnout.announced", "protocol.reported", "personal_data.erased", "sample.drawn",
    "official.results_announced", "evidence.attached", "broadcast.sent", "broadcast.read",
}


def load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def unbounded(node: dict[str, Any], where: str = "") -> list[str]:
    """Paths of strings without maxLength/enum/const, arrays without maxItems, open integers."""
    found = []
    kind = node.get("type")
    if kind == "string" and not {"maxLength", "enum", "const"} & node.keys():
        found.append(where)
    if kind == "array" and "maxItems" not in node:
        found.append(where)
    if kind in ("integer", "number") and "maximum" not in node:
        found.append(where)
    for name, child in node.get("properties", {}).items():
        found += unbounded(child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        found += unbounded(node["items"], f"{where}[]")
    return found


def test_the_whole_catalogue_is_there() -> None:
    assert set(Catalogue().types) == CATALOGUE_TYPES


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == path.name.rpartition(".v")[0]
    assert schema["additionalProperties"] is False and schema["description"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    schema = load(path)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert schema["examples"]
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_schema_declares_scope_and_incident(path: Path) -> None:
    block = load(path)["x-saylau"]
    assert block["scope"] in SCOPES and isinstance(block["incident"], bool)
    assert set(block) == {"scope", "incident"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_field_is_bounded(path: Path) -> None:
    assert unbounded(load(path)) == []


def test_versions_of_one_type_share_scope_and_incident() -> None:
    blocks: dict[str, dict[str, Any]] = {}
    for path in PATHS:
        block = load(path)["x-saylau"]
        assert blocks.setdefault(path.name.rpartition(".v")[0], block) == block


def test_envelope_schema_and_model_agree() -> None:
    schema = load(ENVELOPE_SCHEMA)
    assert set(schema["properties"]) == set(Envelope.model_fields)
    required = {name for name, field in Envelope.model_fields.items() if field.is_required()}
    assert set(schema["required"]) == required


def test_place_schema_and_model_agree() -> None:
    place = load(ENVELOPE_SCHEMA)["properties"]["place"]
    assert set(place["properties"]) == set(Place.model_fields)
    required = {name for name, field in Place.model_fields.items() if field.is_required()}
    assert set(place["required"]) == required


def test_dates_inside_payloads_need_an_offset() -> None:
    catalogue = Catalogue()
    naive = {"started_at": "2021-01-10T12:00:00"}
    assert catalogue.validate("protest.kettled", 1, naive)
    assert not catalogue.validate("protest.kettled", 1, {"started_at": "2021-01-10T12:00Z"})


def test_legal_entity_polls_must_state_experience_and_notification() -> None:
    poll = {"publisher_kind": "legal_entity", "publisher": "Strategy", "channel": "print"}
    assert Catalogue().validate("poll.published", 1, poll)
    complete = {**poll, "years_experience": 20, "commission_notified": True}
    assert not Catalogue().validate("poll.published", 1, complete)


def test_a_regional_announcement_names_its_region_and_a_national_one_does_not() -> None:
    catalogue = Catalogue()
    national = {"level": "national", "turnout_percent": 63.3, "source": "CEC"}
    assert not catalogue.validate("official.results_announced", 1, national)
    assert catalogue.validate("official.results_announced", 1, {**national, "region": "Almaty"})
    regional = {**national, "level": "region"}
    assert catalogue.validate("official.results_announced", 1, regional)
    assert not catalogue.validate("official.results_announced", 1, {**regional, "region": "Almaty"})
