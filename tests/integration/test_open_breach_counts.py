"""The open-breach counts, moved by each breach write instead of recounted, against real
PostgreSQL: after any mix of writes (found, evidence grown, place corrected, withdrawn,
deleted) and with two workers writing the same new breaches at once, the table equals the
aggregate over ``breaches`` that ``/v1/breaches/summary`` used to run."""
from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from saylau.domain.breach import Breach
from saylau.domain.legal import CAMPAIGNING_WHILE_PROHIBITED
from saylau.readmodels import breaches
from saylau.settings import settings
from saylau.store.db import migrate

pytestmark = pytest.mark.integration
RECOUNT = """
SELECT COALESCE(region, '') AS region, rule_id, severity,
       COALESCE(legal_ref->>'code', '') AS code, COALESCE(legal_ref->>'article', '') AS article,
       count(*)::int AS breaches
FROM breaches WHERE status = 'open' GROUP BY 1, 2, 3, 4, 5
"""
T0 = datetime(2021, 1, 10, 9, tzinfo=UTC)


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"counts_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(settings().dsn)
    await migrate(conn, name)
    try:
        yield name
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


async def connect(schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(settings().dsn, server_settings={"search_path": schema})


def breach(rng: random.Random, i: int) -> Breach:
    legal = rng.random() < 0.5
    return Breach(str(uuid.UUID(int=i + 1)), rng.choice(["ballot.stuffing", "silence.breach"]),
                  rng.choice(["high", "medium"]), f"breach {i}",
                  CAMPAIGNING_WHILE_PROHIBITED if legal else None,
                  tuple(str(uuid.UUID(int=10_000 + i * 3 + k)) for k in range(rng.randint(1, 3))),
                  None, rng.choice(["Almaty", "Astana", None]), None,
                  T0 + timedelta(minutes=i), None, "legal" if legal else "alert")


async def counts(conn: asyncpg.Connection) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]]:
    kept = {tuple(r)[:5]: r["breaches"] for r in await conn.fetch(
        "SELECT region, rule_id, severity, code, article, breaches FROM open_breach_counts")}
    recounted = {tuple(r)[:5]: r["breaches"] for r in await conn.fetch(RECOUNT)}
    return Counter(kept), Counter(recounted)


async def test_counts_equal_the_recount_after_any_mix_of_writes(schema: str) -> None:
    rng, conn = random.Random(2021), await connect(schema)
    try:
        known: list[Breach] = []
        for step in range(60):
            async with conn.transaction():
                roll = rng.random()
                if roll < 0.45 or not known:
                    found = [breach(rng, len(known) + k) for k in range(rng.randint(1, 6))]
                    known += found
                    await breaches.upsert_breaches(conn, found)
                elif roll < 0.65:  # evidence grew, place or provision corrected, re-found
                    again = [replace(b, region=rng.choice(["Almaty", "Oral", None]),
                                     severity=rng.choice(["high", "low"]))
                             for b in rng.sample(known, min(3, len(known)))]
                    await breaches.upsert_breaches(conn, again)
                elif roll < 0.75:  # written as withdrawn (a surge below its threshold)
                    await breaches.upsert_breaches(conn, rng.sample(known, 1), "withdrawn")
                elif roll < 0.9:  # a retracted report alone supported it
                    target = rng.choice(known)
                    await breaches.withdraw_breaches(
                        conn, [uuid.UUID(e) for e in target.event_ids[:1]])
                else:  # an alert its figures no longer support
                    await breaches.delete_breaches(conn, [rng.choice(known).breach_id])
            kept, recounted = await counts(conn)
            assert kept == recounted, step
        assert sum(recounted.values()) > 0
        assert 0 not in kept.values()  # a count that reaches zero is dropped, as recounted
    finally:
        await conn.close()


async def test_two_workers_writing_the_same_new_breaches_count_each_once(schema: str) -> None:
    rng = random.Random(7)
    first, second = await connect(schema), await connect(schema)
    try:
        for round_ in range(10):
            found = [breach(rng, 1000 * round_ + k) for k in range(20)]

            async def write(conn: asyncpg.Connection, order: list[Breach]) -> None:
                async with conn.transaction():
                    await breaches.upsert_breaches(conn, order)
                    await asyncio.sleep(0.01)  # hold the rows while the other one waits
            await asyncio.gather(write(first, found), write(second, found[::-1]))
            kept, recounted = await counts(first)
            assert kept == recounted, round_
    finally:
        await first.close()
        await second.close()
