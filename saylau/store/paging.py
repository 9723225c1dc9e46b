"""Keyset pages: a list is walked by the ordering key of the last row seen, never by offset.

A page is ``limit`` rows after the cursor's key, in a fixed order on a key that is unique
and never changes for a row (an id, an occurrence time and an id, a log position), so rows
written while a client walks the list neither repeat nor push others out of the pages still
to come. The cursor is opaque to clients: base64url of the list's name and the last key.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

MAX_PAGE = 1000
"""The largest page any list serves (``limit`` above it is refused with 422)."""

Spec = tuple[Callable[[Any], Any], ...]
"""How each field of a key is read back from its JSON form: ``int``, ``str``, ``timestamp``."""
Row = TypeVar("Row")


class BadCursor(ValueError):
    """A cursor this list did not issue (wrong list, altered, or not a cursor at all)."""


def timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor time has an offset")
    return value


def encode(name: str, key: Sequence[Any]) -> str:
    """The cursor after ``key`` in list ``name``."""
    plain = [v.isoformat() if isinstance(v, datetime) else
             str(v) if isinstance(v, uuid.UUID) else v for v in key]
    return base64.urlsafe_b64encode(orjson.dumps([name, *plain])).decode().rstrip("=")


def decode(name: str, cursor: str, spec: Spec) -> tuple[Any, ...]:
    """The key a cursor of list ``name`` names, each field read by ``spec``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = orjson.loads(raw)
        if not isinstance(found, list) or found[:1] != [name] or len(found) != len(spec) + 1:
            raise BadCursor(f"not a cursor of {name}")
        if any(isinstance(v, (list, dict, bool)) or v is None for v in found[1:]):
            raise BadCursor(f"not a cursor of {name}")
        return tuple(read(v) for read, v in zip(spec, found[1:]))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadCursor(f"not a cursor of {name}: {exc}") from None


def page(name: str, rows: Sequence[Row], limit: int,
         key: Callable[[Row], Sequence[Any]]) -> tuple[list[Row], str | None]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and the cursor after them,
    or None when there is nothing after."""
    shown = list(rows[:limit])
    more = len(rows) > limit and shown
    return shown, encode(name, key(shown[-1])) if more else None


def integer(value: Any) -> int:
    """An integer key field (a JSON float or string is not one)."""
    if not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError("not a 64-bit integer")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a text key")
    return value


def uuid_text(value: Any) -> uuid.UUID:
    return uuid.UUID(text(value))
