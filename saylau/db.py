"""PostgreSQL connections and migrations."""
from __future__ import annotations

from typing import Literal

import asyncpg

from saylau.tables import ddl

UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # 08: connection lost, refused or rejected
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutdown, starting up, timeout
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
    asyncpg.InternalClientError,  # a pooled connection broken mid-protocol
    OSError, TimeoutError,  # the socket: refused, reset, timed out
)
"""What a lost, restarting or overloaded database raises: answer 503 / retry later.

Only connection-class failures: an error the request caused (classes 22 and 23) is the
caller's to fix, and anything else is a bug; retrying either would never succeed."""
CLOSED = ("connection is closed", "pool is closed", "pool is closing")
"""asyncpg raises a plain InterfaceError with these words for a closed connection or pool."""

ErrorKind = Literal["unavailable", "bad_input", "conflict", "bug"]


def classify(exc: BaseException) -> ErrorKind:
    """Whose fault a database error is: the database's (503), the request's (422 for bad
    data, class 22; 409 for a broken constraint, class 23) or the code's (500)."""
    if isinstance(exc, UNAVAILABLE) or (
            type(exc) is asyncpg.InterfaceError and str(exc).startswith(CLOSED)):
        return "unavailable"
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, asyncpg.PostgresError) and state.startswith("22"):
        return "bad_input"
    if isinstance(exc, asyncpg.PostgresError) and state.startswith("23"):
        return "conflict"
    return "bug"


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
    """CREATE TABLE IF NOT EXISTS dashboard_sessions (
        session_hash text PRIMARY KEY,
        key_hash text NOT NULL,
        expires_at timestamptz NOT NULL)""",
]


async def connect_pool(dsn: str, min_size: int = 1, max_size: int = 10,
                       search_path: str | None = None) -> asyncpg.Pool:
    settings = {"search_path": f'"{search_path}"'} if search_path else None
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     command_timeout=30, server_settings=settings)


async def migrate(conn: asyncpg.Connection, schema: str = "live",
                  ingest_schema: str = "ingest") -> None:
    """Create the read-model tables in ``schema`` and ingest's own tables (idempotent)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(8675309)")
        for statement in [*ingest_ddl(ingest_schema), *ddl(schema)]:
            await conn.execute(statement)
        await conn.execute("SET search_path TO DEFAULT")
