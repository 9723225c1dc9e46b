"""Read-model sets: the schema that serves the read models (``READ_SCHEMA``), the projection
version that built it, and the sets a rebuild retired. Kept in the ingest schema, which is
migrated and never rebuilt (revision 0002)."""
from __future__ import annotations

import hashlib

import asyncpg
from sqlalchemy import Column, DateTime, Text, text

from saylau.store.ddl import INGEST, READ, ddl, table

PROJECTION_VERSION = "6"
"""Bump when a release changes what a projection writes (a fold, a rule, a column): the
read models are then rebuilt by ``saylau rebuild``. Table changes alone change the version
too (it hashes the read-model DDL)."""
SERVING, BUILDING, RETIRED = "serving", "building", "retired"

read_model_sets = table(
    "read_model_sets", INGEST,
    Column("schema_name", Text, primary_key=True),
    Column("read_schema", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("switched_at", DateTime(timezone=True)),
)


def read_model_version(projection_version: str = "") -> str:
    """This release's read-model set version: the projection version and a digest of the
    read-model DDL (``PROJECTION_VERSION`` in the environment overrides the constant)."""
    statements = "\n".join(ddl("read_models", READ))
    digest = hashlib.sha256(statements.encode()).hexdigest()[:12]
    return f"{projection_version or PROJECTION_VERSION}-{digest}"


async def serving_version(conn: asyncpg.Connection, ingest_schema: str,
                          read_schema: str) -> str | None:
    """The version of the set serving ``read_schema`` (None: never recorded)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        f'SELECT version FROM "{ingest_schema}".read_model_sets '
        "WHERE read_schema = $1 AND state = $2", read_schema, SERVING)


async def adopt(conn: asyncpg.Connection, ingest_schema: str, read_schema: str,
                version: str) -> str:
    """Record ``read_schema`` as serving at ``version`` if no set serves it yet (a new centre,
    or the first start after upgrading from a release without sets); its serving version."""
    await conn.execute(
        f'INSERT INTO "{ingest_schema}".read_model_sets (schema_name, read_schema, version, '
        "state, switched_at) SELECT $1, $1, $2, $3, now() WHERE NOT EXISTS (SELECT 1 FROM "
        f'"{ingest_schema}".read_model_sets WHERE read_schema = $1 AND state = $3)',
        read_schema, version, SERVING)
    return await serving_version(conn, ingest_schema, read_schema) or version
