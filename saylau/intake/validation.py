"""Checking one submitted item: envelope, payload schema, clock. Pure."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from saylau.catalogue import Catalogue, FieldError
from saylau.domain.checklists import ChecklistBook, checklist_book
from saylau.domain.vocabulary import NEEDS_STATION
from saylau.envelope import Envelope, too_far_in_future
from saylau.privacy.sealing import is_sealed, sealed_strings


def validate_item(item: Any, catalogue: Catalogue, now: datetime,
                  checklists: ChecklistBook | None = None) -> Envelope | list[FieldError]:
    """The envelope of ``item``, or every problem found, each naming its field."""
    if not isinstance(item, dict):
        return [FieldError((), "an event must be a JSON object")]
    try:
        envelope = Envelope.model_validate(item)
    except ValidationError as exc:
        return [FieldError(tuple(e["loc"]), e["msg"]) for e in exc.errors()[:20]]
    errors = catalogue.validate(envelope.type, envelope.schema_version, envelope.payload)
    errors += presealed(envelope, catalogue)
    if too_far_in_future(envelope.occurred_at, now):
        errors.append(FieldError(("occurred_at",), "occurred_at is more than a day in the future"))
    if errors:
        return errors
    located = catalogue.scope(envelope.type) in ("station", "place")
    if located and not envelope.station_id and not envelope.place:
        errors.append(FieldError(("station_id",), f"{envelope.type} needs station_id or place"))
    if envelope.type in NEEDS_STATION and not envelope.station_id:
        errors.append(FieldError(("station_id",), f"{envelope.type} needs the station's id"))
    if envelope.type == "checklist.submitted":
        errors += checklist_errors(envelope, checklists or checklist_book())
    return errors or envelope


PRESEALED = ("a sealed value (enc:v1:…) is not accepted here: send the plain text, "
             "ingest seals it")


def presealed(envelope: Envelope, catalogue: Catalogue) -> list[FieldError]:
    """Values a sender sent already in sealed form where ingest seals: ingest would seal
    them again, past the length a stored record may have (the projector could not read it)."""
    found = [("payload", *location) for location, value, _ in sealed_strings(
        envelope.type, envelope.payload, envelope.schema_version, catalogue) if is_sealed(value)]
    found += [("evidence", i, "caption") for i, item in enumerate(envelope.evidence or [])
              if is_sealed(item.caption)]
    return [FieldError(location, PRESEALED) for location in found]


def checklist_errors(envelope: Envelope, checklists: ChecklistBook) -> list[FieldError]:
    """Answers checked against the checklist definition, each error naming its question."""
    return [FieldError(("payload", *loc), msg) for loc, msg in checklists.errors(envelope.payload)]
