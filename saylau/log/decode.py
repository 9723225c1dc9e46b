"""Turning log bytes back into events: decode, upcast, validate. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
import orjson
from pydantic import Field, ValidationError

from saylau.catalogue import Catalogue, FieldError
from saylau.domain.calendar import Calendars
from saylau.domain.fields import sealed_schema
from saylau.domain.upcasters import upcast
from saylau.envelope import CAPTION_MAX, MAX_EVIDENCE, Envelope, EvidenceItem, stored_envelope


@dataclass(frozen=True)
class Message:
    """One record read from the events topic."""

    partition: int
    offset: int
    value: bytes


class StoredEvidenceItem(EvidenceItem):
    """An evidence file as the log stores it: its caption sealed at ingest (or plain, in
    records appended before captions were sealed)."""

    caption: str | None = Field(default=None, min_length=1,
                                max_length=sealed_schema(CAPTION_MAX)["maxLength"])


class StoredEnvelope(Envelope):
    """The envelope of a stored record (ingest checked the partner's ``Envelope``)."""

    evidence: list[StoredEvidenceItem] | None = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=MAX_EVIDENCE)


@dataclass(frozen=True)
class Decoded:
    message: Message
    record: dict[str, Any]
    event: Envelope


class CompiledCatalogue(Catalogue):
    """The catalogue with every payload schema also compiled to Python (fastjsonschema).

    A payload the compiled check accepts is valid; any other gets the catalogue's own
    (jsonschema) verdict and messages. The compiled check is never laxer: the schemas use
    only draft-07 keywords, string enums and consts, and it also checks ``format``, which
    jsonschema leaves alone, so at worst a valid payload takes the slow path.
    """

    def __init__(self, base: Catalogue) -> None:
        self.__dict__.update(base.__dict__)
        self._compiled = {key: check for key, schema in base.schemas.items()
                          if (check := _compile(schema)) is not None}

    def validate(self, type_name: str, version: int, payload: Any) -> list[FieldError]:
        check = self._compiled.get((type_name, version))
        if check is not None:
            try:
                check(payload)
                return []
            except fastjsonschema.JsonSchemaException:
                pass
        return super().validate(type_name, version, payload)


def _compile(schema: dict[str, Any]) -> Any:
    try:
        return fastjsonschema.compile(schema, use_default=False)
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError):
        return None  # this schema keeps the jsonschema path only


@lru_cache(maxsize=8)
def compiled(catalogue: Catalogue) -> Catalogue:
    """``catalogue`` with compiled payload checks (same answers, faster)."""
    return catalogue if isinstance(catalogue, CompiledCatalogue) else CompiledCatalogue(catalogue)


class PoisonMessage(Exception):
    """A record the projector cannot apply; it goes to the dead-letter table with the reason."""


def decode(message: Message, catalogue: Catalogue,
           calendars: Calendars | None = None) -> Decoded:
    """The event in ``message``, upcast to the latest schema version of its type, its regions
    named as its election named them (with ``calendars``; the record keeps what was sent)."""
    try:
        record = orjson.loads(message.value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise PoisonMessage("not a JSON object")
    try:
        event: Envelope = StoredEnvelope.model_validate(stored_envelope(record))
    except ValidationError as exc:
        raise PoisonMessage(f"invalid envelope: {exc.errors()[0]['loc']}: "
                            f"{exc.errors()[0]['msg']}") from None
    errors = compiled(catalogue).validate(event.type, event.schema_version, event.payload)
    if errors:
        raise PoisonMessage(f"invalid payload: {errors[0].loc}: {errors[0].msg}")
    version, payload = upcast(event.type, event.schema_version, event.payload)
    if version != event.schema_version:
        event = event.model_copy(update={"schema_version": version, "payload": payload})
    if calendars is not None:
        event = calendars.named(event)
    return Decoded(message, record, event)


def parse_record(value: bytes) -> dict[str, Any] | None:
    """The JSON object a log record holds, or None when it is not one (poison)."""
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
