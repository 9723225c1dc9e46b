"""PostgreSQL connections and migrations."""
from __future__ import annotations

import asyncpg

from saylau.tables import ddl

INGEST_DDL = [
    "CREATE SCHEMA IF NOT EXISTS ingest",
    """CREATE TABLE IF NOT EXISTS ingest.accepted_events (
        event_id uuid PRIMARY KEY,
        content_hash text NOT NULL,
        kafka_key text NOT NULL,
        kafka_partition int NOT NULL,
        kafka_offset bigint NOT NULL,
        partner text NOT NULL,
        received_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ingest.api_keys (
        key_hash text PRIMARY KEY,
        partner text NOT NULL,
        scopes text[] NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now())""",
]


async def connect_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     command_timeout=30)


async def migrate(conn: asyncpg.Connection, schema: str = "live") -> None:
    """Create the read-model tables in ``schema`` and ingest's own tables (idempotent)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(8675309)")
        for statement in [*INGEST_DDL, *ddl(schema)]:
            await conn.execute(statement)
        await conn.execute("SET search_path TO DEFAULT")
