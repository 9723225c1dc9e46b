"""Erasure: destroy the data keys of every value naming a person, and say so in the log.

The log keeps its ciphertext, so the hash chain and the auditors' proofs stand; without
the key the value is unreadable everywhere (API, exports, replays show ``"[erased]"``).
The ``personal_data.erased`` event records who asked, when and how many values: never the
name, which would undo the erasure.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

ERASED_TYPE = "personal_data.erased"


class ErasingStore(Protocol):
    async def erase(self, names: Sequence[str]) -> int: ...


def erased_payload(requested_by: str, requested_at: datetime, values: int,
                   reference: str | None = None) -> dict[str, Any]:
    """The ``personal_data.erased`` payload (schema ``personal_data.erased.v1``)."""
    if requested_at.tzinfo is None:
        raise ValueError("requested_at must be timezone-aware")
    payload: dict[str, Any] = {"requested_by": requested_by,
                               "requested_at": requested_at.isoformat(), "values": values}
    if reference:
        payload["reference"] = reference
    return payload


async def erase(store: ErasingStore, names: Sequence[str], requested_by: str,
                requested_at: datetime, reference: str | None = None) -> dict[str, Any]:
    """Destroy the keys of the values naming ``names`` (every spelling given) and build the
    event payload the caller appends. Erasing again finds nothing and reports 0 values."""
    if not [n for n in names if n.strip()]:
        raise ValueError("name: give the name to erase")
    values = await store.erase([n for n in names if n.strip()])
    return erased_payload(requested_by, requested_at, values, reference)
