"""Request values checked before any query, so what PostgreSQL would refuse is a 422 naming
the parameter instead of a database error: text without NUL, integers that fit their column,
times as RFC 3339 timestamps with a UTC offset (what the OpenAPI documents promise)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
JSON_INT_MAX = 2**53 - 1
"""The largest integer every JSON client holds exactly (I-JSON, RFC 7493): the bound of a
``bigint`` in a request (a Kafka offset, a change cursor), which never comes near it. 2**63 - 1
is no double, so clients and validators that compare as doubles would misread it."""
TIMESTAMP_EXAMPLE = "2021-01-10T15:00:00+06:00"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
NUL_MSG = "must not contain NUL (\\u0000) characters"


def text_postgres_can_store(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        raise ValueError(NUL_MSG)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


def rfc3339_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp with a UTC offset (``Z`` or ``±hh:mm``); no bare numbers, no
    local times, nothing PostgreSQL's timestamptz cannot hold."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        hint = " (in a URL, write + as %2B)" if isinstance(value, str) and " " in value else ""
        raise ValueError(f"an RFC 3339 timestamp with a UTC offset, e.g. {TIMESTAMP_EXAMPLE}"
                         + hint)
    try:
        parsed = datetime.fromisoformat(value.upper())
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not a valid date and time: {value!r}") from None
    return parsed


Text = Annotated[str, AfterValidator(text_postgres_can_store),
                 Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
"""Free text bound for a query or a text column."""
Timestamp = Annotated[datetime, BeforeValidator(rfc3339_timestamp)]
"""A moment: RFC 3339 with a UTC offset; anything else is a 422."""
def whole(value: Any) -> Any:
    """A number with a zero fraction (``5.0``) as the integer JSON Schema says it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(whole)]
"""An integer in a strict ``RequestBody``: ``5`` or ``5.0``, never ``5.5``, ``"5"`` or ``true``
(constraints go before the validator, ``Annotated[int, Field(...), BeforeValidator(whole)]``,
or on the field: after it, pydantic leaves them out of the JSON schema)."""
Int4 = Annotated[int, Field(ge=0, le=INT4_MAX), BeforeValidator(whole)]
"""A non-negative integer for an ``int`` column (a Kafka partition, a count)."""
Int8 = Annotated[int, Field(ge=0, le=JSON_INT_MAX), BeforeValidator(whole)]
"""A non-negative integer for a ``bigint`` column (a Kafka offset, a change cursor)."""


class RequestBody(BaseModel):
    """A JSON request body typed exactly as the OpenAPI document says: no ``false`` or ``"1"``
    for an integer, no ``1`` for a boolean (pydantic's lax coercions would accept them);
    integers are ``Whole`` (``1.0`` is the integer 1 in JSON Schema, and strictness alone
    would refuse it)."""

    model_config = ConfigDict(strict=True)


def parse_cursor(text: str | None, default: int | None) -> int | None:
    """A ``Last-Event-ID`` header as a cursor: ASCII digits that fit a bigint, else ``default``."""
    if text and text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= INT8_MAX:
        return int(text)
    return default


def find_nul(path: str, query: list[tuple[str, str]]) -> list[str] | None:
    """Where a NUL hides in a request's path or query string: the ``loc`` of a 422."""
    if "\x00" in path:
        return ["path"]
    for name, value in query:
        if "\x00" in name or "\x00" in value:
            return ["query", name.replace("\x00", "\\u0000")]
    return None
