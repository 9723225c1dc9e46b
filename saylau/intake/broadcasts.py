"""The intake's broadcast step: an observer marks read only a message addressed to her.

Her app learns of a message from ``GET /v1/observer/me``, which reads the addressed
observers from the read models (``broadcast_recipients``); a ``broadcast.read`` naming a
message not addressed to her, or no message at all, is refused alike (403 naming
``payload.broadcast_id``), so the answer says nothing about other observers' messages.
"""
from __future__ import annotations

import asyncpg

from saylau.catalogue import FieldError
from saylau.domain.vocabulary import BROADCAST_READ
from saylau.intake.outcome import Outcome, Pending


async def refuse_unaddressed_reads(pool: asyncpg.Pool, read_schema: str | None,
                                   pending: list[Pending],
                                   outcomes: list[Outcome | None]) -> None:
    """A 403 outcome for each ``broadcast.read`` whose message was not addressed to its
    observer (one query for all)."""
    reads = [p for p in pending if p.envelope.type == BROADCAST_READ and outcomes[p.index] is None]
    if not reads:
        return
    pairs = [(str(p.envelope.payload["broadcast_id"]).lower(), p.envelope.payload["observer_id"])
             for p in reads]
    addressed = await addressed_pairs(pool, read_schema, pairs)
    for p, pair in zip(reads, pairs, strict=True):
        if pair not in addressed:
            outcomes[p.index] = Outcome(403, "forbidden", str(p.envelope.event_id), [FieldError(
                ("payload", "broadcast_id"),
                f"no message {pair[0]} was addressed to observer {pair[1]}")])


async def addressed_pairs(pool: asyncpg.Pool, read_schema: str | None,
                          pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (broadcast id, observer id) pairs the read models hold as addressed."""
    table = f'"{read_schema}".broadcast_recipients'
    if not read_schema or not await pool.fetchval("SELECT to_regclass($1)", table):
        return set()
    rows = await pool.fetch(
        f"SELECT b, o FROM unnest($1::text[], $2::text[]) AS k(b, o) WHERE EXISTS (SELECT 1 "
        f"FROM {table} r WHERE r.broadcast_id = k.b::uuid AND r.observer_id = k.o)",
        [b for b, _ in pairs], [o for _, o in pairs])
    return {(r["b"], r["o"]) for r in rows}
