"""Versioned migrations of the ingest schema: an upgrade from the release before them keeps
every row; the migrated schema matches the SQLAlchemy tables; a schema a newer release
migrated is refused by ``saylau migrate`` and by a service at start."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from saylau.settings import Settings
from saylau.store.ddl import INGEST, WEBHOOKS, metadata, tables_of
from saylau.store.migrations import SchemaBehind, SchemaTooNew, check, head, upgrade
from tests.stack import ROOT, free_port

PREVIOUS_RELEASE = Path(__file__).parents[1] / "fixtures" / "ingest_schema_previous_release.sql"
SAYLAU = Path(sys.executable).parent / "saylau"
DSN = Settings().dsn


def sql(query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(DSN)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def script(schema: str, statements: str) -> None:
    """Run ``statements`` (several, ;-separated) with ``schema`` first on the search path."""
    async def run() -> None:
        conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
        try:
            await conn.execute(statements)
        finally:
            await conn.close()
    asyncio.run(run())


@pytest.fixture
def schema() -> Iterator[str]:
    name = "mig_" + uuid.uuid4().hex[:10]
    yield name
    sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def previous_release(schema: str) -> None:
    """The ingest schema as the release before migrations left it, with a row in each table."""
    sql(f'CREATE SCHEMA "{schema}"')
    script(schema, PREVIOUS_RELEASE.read_text())
    sub = uuid.uuid4()
    script(schema,
           "INSERT INTO api_keys (key_hash, partner, scopes) VALUES ('h1', 'osce', '{read}'); "
           "INSERT INTO known_stations VALUES ('PS-660', now()); "
           "INSERT INTO accepted_events VALUES ('6c0c0000-0000-4000-8000-000000000001', 'c', "
           "'PS-660', 1, 7, 'osce', now()); "
           "INSERT INTO webhook_subscriptions (subscription_id, partner, url, kinds, secret, "
           f"after_cursor) VALUES ('{sub}', 'osce', 'https://x', '{{breach}}', 's', 0)")


def test_upgrade_from_the_previous_release_keeps_every_row(schema: str) -> None:
    previous_release(schema)
    done = asyncio.run(upgrade(DSN, schema))
    assert (done.before, done.after) == (None, head())
    assert [tuple(r) for r in sql(f'SELECT partner, scopes FROM "{schema}".api_keys')] == \
        [("osce", ["read"])]
    assert sql(f'SELECT kafka_offset FROM "{schema}".accepted_events')[0][0] == 7
    assert sql(f'SELECT station_id FROM "{schema}".known_stations')[0][0] == "PS-660"
    assert sql(f'SELECT url FROM "{schema}".webhook_subscriptions')[0][0] == "https://x"
    assert sql(f'SELECT count(*) FROM "{schema}".read_model_sets')[0][0] == 0
    assert sql(f'SELECT version_num FROM "{schema}".alembic_version')[0][0] == head()
    assert asyncio.run(upgrade(DSN, schema)).before == head()  # idempotent
    assert asyncio.run(differences(schema)) == []


def test_a_fresh_schema_migrates_to_the_sqlalchemy_tables(schema: str) -> None:
    with pytest.raises(SchemaBehind, match="saylau migrate"):
        asyncio.run(check(DSN, schema))
    asyncio.run(upgrade(DSN, schema))
    assert asyncio.run(check(DSN, schema)) == head()
    assert asyncio.run(differences(schema)) == []


async def differences(schema: str) -> list[Any]:
    """What Alembic's autogenerate finds between the migrated schema and the ingest-side
    tables of the SQLAlchemy metadata (empty: the migrations reach the model)."""
    ours = {t.name for home in (INGEST, WEBHOOKS) for t in tables_of(home)}

    def include(obj: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
        table = obj if kind == "table" else getattr(obj, "table", None)
        return table is None or table.name in ours

    def diff(conn: Any) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"include_object": include,
                                                         "compare_type": True})
        return compare_metadata(context, metadata)  # type: ignore[no-any-return]
    engine = create_async_engine(DSN.replace("postgresql://", "postgresql+asyncpg://", 1),
                                 poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{schema}"'))
            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


def test_a_schema_newer_than_the_release_is_refused(schema: str) -> None:
    asyncio.run(upgrade(DSN, schema))
    sql(f"UPDATE \"{schema}\".alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaTooNew, match="9999"):
        asyncio.run(upgrade(DSN, schema))
    env = {**os.environ, "INGEST_SCHEMA": schema, "READ_SCHEMA": schema + "_read"}
    done = subprocess.run([str(SAYLAU), "migrate"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2 and "newer release" in done.stderr
    service = subprocess.run(
        [sys.executable, "-m", "uvicorn", "services.api.app:app", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert service.returncode != 0
    assert "a newer release migrated it" in service.stdout + service.stderr
    sql(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')
