"""PostgreSQL connections and migrations."""
from __future__ import annotations

import asyncpg

from saylau.tables import ddl

UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
               OSError, TimeoutError)
"""What a lost or restarting database raises (a broken pooled connection can raise
InternalClientError, which is neither of asyncpg's other bases): answer 503 / retry."""


def ingest_ddl(schema: str) -> list[str]:
    """Ingest's own tables (dedup ids, API keys, registered station ids): not read models,
    never replayed."""
    return [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', f'SET search_path TO "{schema}"',
            *INGEST_TABLES]


INGEST_TABLES = [
    """CREATE TABLE IF NOT EXISTS accepted_events (
        event_id uuid PRIMARY KEY,
        content_hash text NOT NULL,
        kafka_key text NOT NULL,
        kafka_partition int NOT NULL,
        kafka_offset bigint NOT NULL,
        partner text NOT NULL,
        received_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_hash text PRIMARY KEY,
        partner text NOT NULL,
        scopes text[] NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS known_stations (
        station_id text PRIMARY KEY,
        registered_at timestamptz NOT NULL)""",
]


async def connect_pool(dsn: str, min_size: int = 1, max_size: int = 10,
                       search_path: str | None = None,
                       command_timeout: float = 30) -> asyncpg.Pool:
    """The one way a service opens its pool (``search_path``: that schema first)."""
    settings = {"search_path": f'"{search_path}"'} if search_path else None
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     command_timeout=command_timeout, timeout=10,
                                     server_settings=settings)


async def migrate(conn: asyncpg.Connection, schema: str = "live",
                  ingest_schema: str = "ingest") -> None:
    """Create the read-model tables in ``schema`` and ingest's own tables (idempotent)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(8675309)")
        for statement in [*ingest_ddl(ingest_schema), *ddl(schema)]:
            await conn.execute(statement)
        await conn.execute("SET search_path TO DEFAULT")
