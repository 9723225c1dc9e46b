"""PostgreSQL connections, ingest's own tables, and migrations."""
from __future__ import annotations

import asyncpg
from sqlalchemy import Column, DateTime, Index, Integer, LargeBinary, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, UUID

from saylau import readmodels  # noqa: F401 - defines the read-model tables
from saylau.ddl import INGEST, READ, ddl, table

UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
               OSError, TimeoutError)
"""What a lost or restarting database raises (a broken pooled connection can raise
InternalClientError, which is neither of asyncpg's other bases): answer 503 / retry."""

accepted_events = table(
    "accepted_events", INGEST,
    Column("event_id", UUID, primary_key=True),
    Column("content_hash", Text, nullable=False),
    Column("kafka_key", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BIGINT, nullable=False),
    Column("partner", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
"""Ingest's own tables (dedup ids, API keys, registered station ids): not read models,
never replayed."""

api_keys = table(
    "api_keys", INGEST,
    Column("key_hash", Text, primary_key=True),
    Column("partner", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

known_stations = table(
    "known_stations", INGEST,
    Column("station_id", Text, primary_key=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

personal_data_keys = table(
    "personal_data_keys", INGEST,
    Column("key_id", Text, primary_key=True),
    Column("wrapped_key", LargeBinary),
    Column("wrapped_by", Text, nullable=False),
    Column("blind_index", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("erased_at", DateTime(timezone=True)),
    Index("personal_data_keys_blind_index", "blind_index"),
)
"""Data keys of personal values, wrapped by the master key (``saylau.privacy.store``);
an erased value keeps its row with ``wrapped_key`` and ``blind_index`` NULL."""


log_identity = table(
    "log_identity", INGEST,
    Column("topic", Text, primary_key=True),
    Column("topic_id", Text, nullable=False),
)
"""The Kafka topic id ``accepted_events`` belongs to (recorded at ingest's first start)."""


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
        for statement in [*ddl(ingest_schema, INGEST), *ddl(schema, READ)]:
            await conn.execute(statement)
        await conn.execute("SET search_path TO DEFAULT")
