"""Upcasters: bring a stored payload of any schema version to its type's latest version.

Events in the log are never rewritten; readers upcast on the way out. Each step is a pure
function from one version's payload to the next, registered under ``(type, from_version)``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from saylau.domain.vocabulary import DETENTION_REPORTED

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]


def detention_reported_v1_to_v2(payload: Payload) -> Payload:
    """v2 records a role for each detained person; v1 names had none, so the role is unspecified."""
    if "persons" not in payload:
        return dict(payload)
    persons = [{"name": name, "role": "unspecified"} for name in payload["persons"]]
    return {**payload, "persons": persons}


UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    (DETENTION_REPORTED, 1): detention_reported_v1_to_v2,
}


def latest_version(type_name: str, version: int = 1) -> int:
    """The version ``upcast`` brings a ``type_name`` payload of ``version`` to."""
    while (type_name, version) in UPCASTERS:
        version += 1
    return version


def upcast(type_name: str, version: int, payload: Mapping[str, Any]) -> tuple[int, Payload]:
    """``(latest_version, payload)`` for a stored payload; the input is not modified."""
    current = dict(payload)
    while (step := UPCASTERS.get((type_name, version))) is not None:
        current = step(current)
        version += 1
    return version, current
