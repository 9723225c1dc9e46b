"""Where personal data sits in a payload: the one home for the personal-field paths.

A schema marks a string that names a person with ``"x-personal": true`` (on the string
itself, or on an array's ``items``), and a string a person writes in their own words (a
description, a reason, a note, a message's text: where names end up) with
``"x-free-text": true``. Both are sealed at ingest; names also get a blind index, free text
is found by decrypting it (``saylau erase --name``). The paths are read from the schemas,
so adding a personal field is a schema edit and nothing else.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

PERSONAL = "x-personal"
FREE_TEXT = "x-free-text"
EACH = "*"
Path = tuple[str, ...]
SEALED_PATTERN = r"^enc:v1:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{80,1147}$"
SEALED_SCHEMA: dict[str, Any] = {"type": "string", "maxLength": 1200, "pattern": SEALED_PATTERN}
"""A sealed value (see ``saylau.privacy.sealing``): nonce, plaintext padded to 32 bytes and
tag, base64url; 200 four-byte characters (832 padded bytes, 1147 characters) still fit."""
SEALED_OVERHEAD = 12 + 16
"""Bytes a sealed value adds to its padded plaintext: the nonce and the tag."""


def sealed_schema(max_chars: int) -> dict[str, Any]:
    """A sealed value of a plaintext of at most ``max_chars`` characters (four bytes each,
    padded to 32 bytes, as ``saylau.privacy.sealing`` does)."""
    padded = -(-(4 * max_chars + 1) // 32) * 32
    encoded = -(-(padded + SEALED_OVERHEAD) * 4 // 3)
    pattern = f"^enc:v1:[A-Za-z0-9_-]{{22}}:[A-Za-z0-9_-]{{80,{encoded}}}$"
    return {"type": "string", "maxLength": len("enc:v1::") + 22 + encoded, "pattern": pattern}


def personal_paths(schema: dict[str, Any]) -> tuple[Path, ...]:
    """Paths of the strings naming people in payloads of ``schema``; ``*`` is every array
    element."""
    return tuple(_walk(schema, (), PERSONAL))


def free_text_paths(schema: dict[str, Any]) -> tuple[Path, ...]:
    """Paths of the free-text strings in payloads of ``schema``."""
    return tuple(_walk(schema, (), FREE_TEXT))


def _walk(node: dict[str, Any], at: Path, mark: str) -> Iterator[Path]:
    if node.get(mark) is True:
        yield at
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, (*at, name), mark)
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], (*at, EACH), mark)


def accepting_sealed(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every personal and free-text string also accepting its sealed form,
    so an event whose names and texts were encrypted at ingest still passes its own schema."""
    copied = copy.deepcopy(schema)
    _widen(copied)
    return copied


def _widen(node: dict[str, Any]) -> None:
    for child in node.get("properties", {}).values():
        _widen(child)
    if isinstance(node.get("items"), dict):
        _widen(node["items"])
    if node.get(PERSONAL) is True or node.get(FREE_TEXT) is True:
        plain = {k: v for k, v in node.items() if k not in (PERSONAL, FREE_TEXT, "description")}
        for key in plain:
            del node[key]
        node["anyOf"] = [plain, SEALED_SCHEMA if node.get(PERSONAL) is True
                         else sealed_schema(_max_chars(plain))]


def _max_chars(plain: dict[str, Any]) -> int:
    limit = plain.get("maxLength")
    if not isinstance(limit, int):
        raise TypeError(f"a free-text string needs an integer maxLength to be sealed: {plain}")
    return limit


def strings_at(payload: Any, path: Path, at: tuple[str | int, ...] = ()
               ) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string at ``path`` in ``payload`` with its concrete location; other shapes
    (a head count where an older version had names) are skipped."""
    if not path:
        if isinstance(payload, str):
            yield at, payload
        return
    head, rest = path[0], path[1:]
    if head == EACH and isinstance(payload, list):
        for index, item in enumerate(payload):
            yield from strings_at(item, rest, (*at, index))
    elif isinstance(payload, dict) and head in payload:
        yield from strings_at(payload[head], rest, (*at, head))


def replace_at(payload: Any, location: tuple[str | int, ...], value: Any) -> None:
    """Set the value at a concrete ``location`` (in place)."""
    for step in location[:-1]:
        payload = payload[step]
    payload[location[-1]] = value
