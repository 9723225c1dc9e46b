"""Turning log bytes back into events: decode, upcast, validate. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from saylau.catalogue import Catalogue
from saylau.domain.upcasters import upcast
from saylau.envelope import Envelope, stored_envelope


@dataclass(frozen=True)
class Message:
    """One record read from the events topic."""

    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True)
class Decoded:
    message: Message
    record: dict[str, Any]
    event: Envelope


class PoisonMessage(Exception):
    """A record the projector cannot apply; it goes to the dead-letter table with the reason."""


def decode(message: Message, catalogue: Catalogue) -> Decoded:
    """The event in ``message``, upcast to the latest schema version of its type."""
    try:
        record = orjson.loads(message.value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise PoisonMessage("not a JSON object")
    try:
        event = Envelope.model_validate(stored_envelope(record))
    except ValidationError as exc:
        raise PoisonMessage(f"invalid envelope: {exc.errors()[0]['loc']}: "
                            f"{exc.errors()[0]['msg']}") from None
    errors = catalogue.validate(event.type, event.schema_version, event.payload)
    if errors:
        raise PoisonMessage(f"invalid payload: {errors[0].loc}: {errors[0].msg}")
    version, payload = upcast(event.type, event.schema_version, event.payload)
    if version != event.schema_version:
        event = event.model_copy(update={"schema_version": version, "payload": payload})
    return Decoded(message, record, event)
