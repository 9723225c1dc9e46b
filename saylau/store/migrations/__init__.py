"""Versioned migrations (Alembic) of the tables that are NOT rebuilt from the log: ingest's
accepted ids, API keys, known stations, the webhook tables and the read-model sets, all in
the ingest schema (``INGEST_SCHEMA``). Read models are never migrated: they are rebuilt
(``saylau rebuild``).

Each schema carries its own ``alembic_version`` table (``version_table_schema``), so stacks
with different ``INGEST_SCHEMA`` upgrade independently. Revisions live in ``versions/``,
written by hand (``NNNN_what.py``); the SQLAlchemy tables (``saylau.store.ddl``, homes ``ingest``
and ``webhooks``) are the model they must reach, which ``tests/e2e/test_migrations.py``
checks with Alembic's ``compare_metadata``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

HERE = Path(__file__).resolve().parent
LOCK = 8675309
"""The advisory lock every schema change takes (the read-model DDL takes it too)."""


class SchemaTooNew(RuntimeError):
    """The schema was migrated by a newer release than this one."""


class SchemaBehind(RuntimeError):
    """The schema needs ``saylau migrate`` (services that only check refuse to start)."""


@dataclass(frozen=True)
class Upgraded:
    schema: str
    before: str | None
    after: str


def config() -> Config:
    found = Config()
    found.set_main_option("script_location", str(HERE))
    return found


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision this release knows."""
    return str(scripts().get_current_head())


async def upgrade(dsn: str, schema: str) -> Upgraded:
    """Upgrade ``schema`` to this release's head, in one transaction under the lock."""
    return await _run(dsn, schema, _upgrade)  # type: ignore[no-any-return]


async def check(dsn: str, schema: str) -> str:
    """The revision of ``schema``; raises unless it is exactly this release's head."""
    return await _run(dsn, schema, _check)  # type: ignore[no-any-return]


async def current(dsn: str, schema: str) -> str | None:
    """The revision of ``schema`` (None: never migrated)."""
    return await _run(dsn, schema, _current)  # type: ignore[no-any-return]


async def _run(dsn: str, schema: str, step: Any) -> Any:
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": LOCK})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            return await conn.run_sync(step, schema)
    finally:
        await engine.dispose()


def _current(conn: Connection, schema: str) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    return context.get_current_revision()


def _known(schema: str, revision: str | None) -> None:
    if revision is None:
        return
    try:
        found = scripts().get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise SchemaTooNew(
            f"schema {schema!r} is at migration {revision}, which this release does not know "
            f"(it knows up to {head()}): a newer release migrated it. Run that release, or "
            "restore a backup taken before the upgrade; refusing to start.")


def _check(conn: Connection, schema: str) -> str:
    revision = _current(conn, schema)
    _known(schema, revision)
    if revision != head():
        raise SchemaBehind(f"schema {schema!r} is at migration {revision or 'none'}, this "
                           f"release needs {head()}: run 'saylau migrate'")
    return str(revision)


def _upgrade(conn: Connection, schema: str) -> Upgraded:
    before = _current(conn, schema)
    _known(schema, before)
    script = scripts()

    def steps(rev: Any, context: Any) -> Any:
        return script._upgrade_revs("head", rev)

    with EnvironmentContext(config(), script, fn=steps, destination_rev="head") as env:
        env.configure(connection=conn, version_table_schema=schema, transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()
    return Upgraded(schema, before, head())
