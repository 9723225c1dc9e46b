"""A record the database refuses (a constraint, not a connection problem) must not stall its
partition: it becomes a dead letter with the database's reason and the projector goes on."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.factories import detention, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
REFUSED_SOURCE = "refused-by-constraint"


@pytest.fixture
def guarded_stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        stack.start()
        asyncio.run(add_constraint(stack.name))
        yield stack
    finally:
        stack.stop()


async def add_constraint(schema: str) -> None:
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute(f'ALTER TABLE "{schema}".events ADD CONSTRAINT refuse_test_source '
                           f"CHECK (record->>'source' <> '{REFUSED_SOURCE}')")
    finally:
        await conn.close()


def test_refused_record_is_dead_lettered_and_the_rest_counted(guarded_stack: Stack) -> None:
    city = unique()
    refused = detention(city, 50, source=REFUSED_SOURCE)
    batch = [detention(city, 1), refused, detention(city, 2), detention(city, 4)]
    reply = guarded_stack.post_batch(batch)
    assert [r["status"] for r in reply.json()["results"]] == ["accepted"] * 4
    counts = wait_until(lambda: (c := guarded_stack.detentions_in(city)) and
                        c["detained_total"] == 7 and c, timeout=60)
    assert counts["detained_total"] == 7
    admin = httpx.get(f"{guarded_stack.api_url}/v1/admin/dead-letters", timeout=30,
                      headers={"Authorization": f"Bearer {guarded_stack.writer_key}"})
    reasons = [d["reason"] for d in admin.json()["dead_letters"]]
    assert len(reasons) == 1 and "CheckViolation" in reasons[0], reasons
