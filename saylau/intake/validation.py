"""Checking one submitted item: envelope, payload schema, clock. Pure."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from saylau.catalogue import Catalogue, FieldError
from saylau.domain.checklists import ChecklistBook, checklist_book
from saylau.domain.vocabulary import STATION_KEYED
from saylau.envelope import Envelope, too_far_in_future


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
    if too_far_in_future(envelope.occurred_at, now):
        errors.append(FieldError(("occurred_at",), "occurred_at is more than a day in the future"))
    if errors:
        return errors
    located = catalogue.scope(envelope.type) in ("station", "place")
    if located and not envelope.station_id and not envelope.place:
        errors.append(FieldError(("station_id",), f"{envelope.type} needs station_id or place"))
    if envelope.type in STATION_KEYED and not envelope.station_id:
        errors.append(FieldError(("station_id",), f"{envelope.type} needs the station's id"))
    if envelope.type == "checklist.submitted":
        errors += checklist_errors(envelope, checklists or checklist_book())
    return errors or envelope


def checklist_errors(envelope: Envelope, checklists: ChecklistBook) -> list[FieldError]:
    """Answers checked against the checklist definition, each error naming its question."""
    return [FieldError(("payload", *loc), msg) for loc, msg in checklists.errors(envelope.payload)]
