"""Reading a gateway's webhook: its form or JSON fields, and its settings from the URL."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException

from saylau.channels import Context
from saylau.domain.calendar import Calendars
from saylau.web.input import rfc3339_timestamp

SENDER_FIELDS = ("from", "From", "sender", "msisdn")
TEXT_FIELDS = ("text", "Text", "Body", "body", "message")
ID_FIELDS = ("message_id", "MessageSid", "messageId", "id")
TIME_FIELDS = ("timestamp", "sent_at", "received_at")
MAX_UNIX = 9_999_999_999
UNIX_DIGITS = re.compile(r"0*[0-9]{1,10}")
"""Unix seconds written as digits, up to ``MAX_UNIX`` (longer digit strings are too late)."""


@lru_cache(maxsize=1)
def calendars() -> Calendars:
    return Calendars.load()


def gateway_context(query: Mapping[str, str], channel: str, now: datetime) -> Context:
    """The gateway's settings from its webhook URL; the election defaults to the current one."""
    election_id = query.get("election")
    election = (calendars().get(election_id) if election_id
                else calendars().for_event(None, now))
    if election_id and election is None:
        raise HTTPException(422, f"unknown election {election_id!r}; known: "
                                 f"{', '.join(sorted(calendars().elections))}")
    return Context(election=election, source=query.get("source", channel)[:100],
                   region=query.get("region"))


def fields_of(body: bytes, content_type: str) -> dict[str, Any]:
    """A gateway's form post or JSON object, as one flat mapping."""
    if "json" in content_type:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPException(422, "the JSON body must be an object")
        return data
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def first(data: dict[str, Any], names: tuple[str, ...]) -> str:
    """The first of ``names`` given (not empty), as text: a string or a number."""
    name = next((n for n in names if data.get(n) not in (None, "")), None)
    if name is None:
        raise HTTPException(422, f"missing field {names[0]!r} (or {', '.join(names[1:])})")
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise HTTPException(422, [{"loc": ["body", name], "msg": "must be text or a number",
                                   "type": "value_error"}])
    return str(value)


def sent_at(data: dict[str, Any], now: datetime) -> datetime:
    """The gateway's timestamp (RFC 3339 with a UTC offset, or Unix seconds up to
    ``MAX_UNIX``, as a number or digits), else now."""
    value = next((data[n] for n in TIME_FIELDS if data.get(n) not in (None, "")), None)
    if value is None:
        return now
    if isinstance(value, str) and not UNIX_DIGITS.fullmatch(value):
        try:
            return rfc3339_timestamp(value)
        except ValueError as exc:
            raise HTTPException(422, f"timestamp {value[:100]!r}: {exc}") from None
    seconds = float(value) if isinstance(value, str) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
            0 <= seconds <= MAX_UNIX):
        raise HTTPException(422, f"timestamp {value!r} is neither RFC 3339 nor Unix seconds "
                                 f"(0 to {MAX_UNIX})")
    return datetime.fromtimestamp(int(seconds), UTC)
