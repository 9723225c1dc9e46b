"""Erasure: destroy the data keys of every value naming a person (or of one event's values),
and say so in the log.

The log keeps its ciphertext, so the hash chain and the auditors' proofs stand; without
the key the value is unreadable everywhere (API, exports, replays show ``"[erased]"``).
The ``personal_data.erased`` event records who asked, when and how many values: never the
name, which would undo the erasure.

The keys are deleted and the event kept as pending in one transaction, then the key table
is rewritten (``purge``), then the event is appended. An append that fails leaves the event
pending: the next ``saylau erase`` appends it first, with the count of the keys it really
destroyed, so an erasure and its record never part ways.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from saylau.privacy.sealing import normalise

ERASED_TYPE = "personal_data.erased"
SOURCE = "saylau-erase"


class NotRecorded(RuntimeError):
    """The keys are destroyed but the event was not appended; it stays pending."""


@dataclass(frozen=True)
class ErasureRequest:
    """What to erase: every value naming one of ``names`` (each spelling given) and every
    personal value of the events ``event_ids``; who asked, when, and their reference."""

    requested_by: str
    requested_at: datetime
    names: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    reference: str | None = None


@dataclass(frozen=True)
class PendingErasure:
    """An erasure carried out whose event is not in the log yet."""

    request: bytes
    event: dict[str, Any]


@dataclass(frozen=True)
class Erased:
    """What a run did: the values it destroyed, its own event (None when it repeated an
    unrecorded request and found nothing more), every event it appended with the log's
    answer (oldest first), and why the next one was not appended, if one was not."""

    values: int
    event: dict[str, Any] | None
    recorded: list[tuple[dict[str, Any], str]]
    not_recorded: str | None = None


class ErasingStore(Protocol):
    index_key: bytes

    async def destroy(self, names: Sequence[str], key_ids: Collection[str], request: bytes,
                      record: Callable[[int], dict[str, Any]]) -> dict[str, Any]: ...

    async def pending_erasures(self) -> list[PendingErasure]: ...

    async def erasure_recorded(self, event_id: str) -> None: ...

    async def purge(self) -> None: ...


Append = Callable[[dict[str, Any]], Awaitable[str]]
"""Appends an event to the log and says how (``accepted``, ``duplicate``); raises
``NotRecorded`` when the log does not hold it."""


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


def erased_event(request: ErasureRequest, values: int) -> dict[str, Any]:
    """The ``personal_data.erased`` envelope of ``request``, with a fresh id."""
    return {"event_id": str(uuid.uuid4()), "type": ERASED_TYPE, "schema_version": 1,
            "occurred_at": request.requested_at.isoformat(), "source": SOURCE,
            "payload": erased_payload(request.requested_by, request.requested_at, values,
                                      request.reference)}


def request_digest(index_key: bytes, request: ErasureRequest) -> bytes:
    """A keyed hash of what was asked for (normalised names, event ids): the same request
    run again has the same digest; without the index key it confirms no guessed name."""
    asked = sorted({f"name:{normalise(n)}" for n in request.names}
                   | {f"event:{uuid.UUID(e)}" for e in request.event_ids})
    return hmac.new(index_key, "\n".join(["saylau.erasure.v1", *asked]).encode(),
                    hashlib.sha256).digest()


def checked(request: ErasureRequest) -> ErasureRequest:
    """``request`` without blank names; ValueError naming the option when nothing is asked."""
    names = tuple(n for n in request.names if n.strip())
    if request.names and not names:
        raise ValueError("name: give the name to erase")
    if not names and not request.event_ids:
        raise ValueError("name: give --name or --event")
    return ErasureRequest(request.requested_by, request.requested_at, names,
                          request.event_ids, request.reference)


async def erase(store: ErasingStore, request: ErasureRequest, key_ids: Collection[str],
                append: Append) -> Erased:
    """Destroy the keys of the values ``request`` names (names by their blind index; free
    texts and an event's values by ``key_ids``, which the caller found) and keep the event;
    rewrite the key table; append every pending event, oldest first (appending one again is
    a duplicate, never a second record). Repeating a request whose event is pending appends
    that event and adds none when nothing more was found."""
    request = checked(request)
    digest = request_digest(store.index_key, request)
    retrying = any(p.request == digest for p in await store.pending_erasures())
    created = await store.destroy(request.names, key_ids, digest,
                                  lambda values: erased_event(request, values))
    values, event = int(created["payload"]["values"]), created
    if retrying and values == 0:
        await store.erasure_recorded(created["event_id"])
        event = None
    await store.purge()
    recorded: list[tuple[dict[str, Any], str]] = []
    for pending in await store.pending_erasures():
        try:
            status = await append(pending.event)
        except NotRecorded as exc:
            return Erased(values, event, recorded, str(exc))
        await store.erasure_recorded(pending.event["event_id"])
        recorded.append((pending.event, status))
    return Erased(values, event, recorded)
