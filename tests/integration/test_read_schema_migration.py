"""Creating the read-model tables at a service's start, against real PostgreSQL: a complete
schema is left alone (no DDL, so no table lock), an incomplete one is completed."""
from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from saylau.settings import settings
from saylau.store.db import migrate, schema_complete
from saylau.store.ddl import READ, tables_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"readmig_{uuid4().hex[:12]}"
    conn = await asyncpg.connect(settings().dsn)
    try:
        yield name
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


async def test_a_service_starting_beside_a_writing_projector_waits_on_no_table(
        schema: str) -> None:
    """The CI failure: an api restarting while the projector held row locks deadlocked in
    ``ALTER TABLE … ADD COLUMN IF NOT EXISTS``. Now the second start runs no DDL."""
    writer, starter = await asyncpg.connect(settings().dsn), await asyncpg.connect(settings().dsn)
    try:
        await migrate(starter, schema)
        assert await schema_complete(starter, schema, READ)
        async with writer.transaction():  # the projector, mid-batch
            for table in ("projector_offsets", "breaches", "detention_buckets"):
                await writer.execute(f'LOCK TABLE "{schema}".{table} IN ROW EXCLUSIVE MODE')
            await starter.execute("SET lock_timeout = '2s'")
            await migrate(starter, schema)  # before the fix: LockNotAvailableError after 2 s
    finally:
        await writer.close()
        await starter.close()


async def test_a_missing_column_or_index_is_created_again(schema: str) -> None:
    conn = await asyncpg.connect(settings().dsn)
    try:
        assert not await schema_complete(conn, schema, READ)
        await migrate(conn, schema)
        await conn.execute(f'ALTER TABLE "{schema}".projector_offsets DROP COLUMN chain_head')
        assert not await schema_complete(conn, schema, READ)
        await migrate(conn, schema)
        assert await schema_complete(conn, schema, READ)
        index = next(str(ix.name) for t in tables_of(READ) for ix in t.indexes)
        await conn.execute(f'DROP INDEX "{schema}"."{index}"')
        assert not await schema_complete(conn, schema, READ)
        assert await schema_complete(conn, schema, READ, frozenset({index}))
        await migrate(conn, schema)
        assert await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE schemaname = $1 "
                                   "AND indexname = $2", schema, index) == 1
    finally:
        await conn.close()
