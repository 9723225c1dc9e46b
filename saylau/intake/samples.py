"""The intake's sample step: a ``sample.drawn`` that would replace an election's sample must
name it (``replaces``), through every route (``POST /v1/events``, a batch, the draw route).

The current sample of an election is the one ingest accepted last (its own
``quickcount_draws``), else the one the read models hold (a sample from before ingest kept
draws). The check and the record of an accepted draw run in one transaction holding a lock
per election, across the append: two draws of one election never both pass, in one process
or several. Draws are rare; other items never take the lock.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from saylau.catalogue import FieldError
from saylau.domain.quickcount import replacement_refused
from saylau.domain.vocabulary import SAMPLE_DRAWN
from saylau.intake.outcome import Outcome, Pending


@asynccontextmanager
async def checked_draws(pool: asyncpg.Pool, pending: list[Pending],
                        outcomes: list[Outcome | None],
                        read_schema: str | None) -> AsyncIterator[None]:
    """A 409 outcome for each draw that replaces a sample without naming it; around the
    append of the rest, and then the record of the draws it accepted."""
    draws = [p for p in pending if p.envelope.type == SAMPLE_DRAWN]
    if not draws:
        yield
        return
    elections = sorted({str(p.envelope.payload["election_id"]) for p in draws})
    async with pool.acquire() as conn, conn.transaction():
        for election in elections:  # one order for every process: no deadlocks
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || "
                               "':quickcount:' || $1))", election)
        current = await current_samples(conn, elections, read_schema)
        _refuse_silent_replacements(draws, outcomes, current)
        yield
        await _record(conn, [p for p in draws if (o := outcomes[p.index]) and o.code == 202])


def _refuse_silent_replacements(draws: list[Pending], outcomes: list[Outcome | None],
                                current: dict[str, str]) -> None:
    """In order: a draw that passes becomes its election's current sample for the next."""
    for p in draws:
        payload = p.envelope.payload
        election = str(payload["election_id"])
        refused = replacement_refused(election, payload.get("replaces"), current.get(election))
        if refused:
            outcomes[p.index] = Outcome(409, "conflict", str(p.envelope.event_id),
                                        [FieldError(("payload", "replaces"), refused)])
        else:
            current[election] = str(payload["sample_id"])


async def current_samples(conn: asyncpg.Connection, elections: list[str],
                          read_schema: str | None) -> dict[str, str]:
    """Each election's current sample: ingest's record of it, else the read models'."""
    found = {r["election_id"]: r["sample_id"] for r in await conn.fetch(
        "SELECT election_id, sample_id FROM quickcount_draws "
        "WHERE election_id = ANY($1::text[])", elections)}
    table = f'"{read_schema}".quickcount_samples'
    rest = [e for e in elections if e not in found]
    if rest and read_schema and await conn.fetchval("SELECT to_regclass($1)", table):
        found |= {r["election_id"]: r["sample_id"] for r in await conn.fetch(
            f"SELECT election_id, sample_id FROM {table} WHERE election_id = ANY($1::text[])",
            rest)}
    return found


async def _record(conn: asyncpg.Connection, accepted: list[Pending]) -> None:
    """The draws the log acknowledged, each its election's current sample now."""
    for p in accepted:
        payload = p.envelope.payload
        await conn.execute(
            "INSERT INTO quickcount_draws (election_id, sample_id, drawn_at) "
            "VALUES ($1, $2, $3) ON CONFLICT (election_id) DO UPDATE SET "
            "sample_id = EXCLUDED.sample_id, drawn_at = EXCLUDED.drawn_at",
            str(payload["election_id"]), str(payload["sample_id"]),
            datetime.fromisoformat(str(payload["drawn_at"])))
