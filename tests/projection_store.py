"""A PostgreSQL projection store on a throw-away read schema, for tests that apply batches
to the real read models without a running stack."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from saylau.domain.rules import RuleConfig
from saylau.readmodels.postgres import PostgresProjectionStore
from saylau.settings import Settings
from saylau.store.ddl import ddl


@asynccontextmanager
async def throwaway_store(prefix: str, topic: str) -> AsyncIterator[PostgresProjectionStore]:
    """A store on a new schema named ``prefix`` + a random suffix, dropped afterwards."""
    schema = prefix + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(Settings().dsn)
    try:
        async with conn.transaction():
            for statement in ddl(schema):
                await conn.execute(statement)
        yield PostgresProjectionStore(conn, schema, topic, RuleConfig())
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
