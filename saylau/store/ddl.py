"""Every table, defined once with SQLAlchemy Core on ONE ``MetaData``, created in any schema.

Tables carry no schema of their own: each names its *home* (``info["home"]``: the read
models, ingest's own tables, or the webhook tables) and ``ddl`` creates a home's tables in
the schema a stack configures (``READ_SCHEMA``, ``INGEST_SCHEMA``) under ``search_path``.
So the live projector writes ``live``, ``saylau replay`` a fresh schema with the same DDL,
and test stacks their own schemas.
"""
from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

READ, INGEST, WEBHOOKS = "read", "ingest", "webhooks"
DEFINED_IN = {READ: "saylau.readmodels", INGEST: "saylau.store.db", WEBHOOKS: "saylau.outbound.webhooks"}
"""The module that defines a home's tables (imported before its DDL is built)."""
metadata = MetaData()


def table(name: str, home: str, *columns: Any, after: tuple[str, ...] = ()) -> Table:
    """A table of ``home`` on the shared metadata; ``after``: idempotent statements run once
    it exists (column additions for schemas of an earlier release, seed rows)."""
    return Table(name, metadata, *columns, info={"home": home, "after": after})


def tables_of(home: str) -> list[Table]:
    """The tables of ``home``, in dependency order."""
    importlib.import_module(DEFINED_IN[home])
    return [t for t in metadata.sorted_tables if t.info.get("home") == home]


def ddl(schema: str, home: str = READ, deferred: frozenset[str] = frozenset()) -> list[str]:
    """CREATE statements for every table of ``home``, idempotent, inside ``schema``.

    ``deferred``: names of secondary indexes left out (a bulk load builds them after,
    with ``index_ddl``)."""
    dialect = postgresql.dialect()
    statements = [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', f'SET search_path TO "{schema}"']
    for t in tables_of(home):
        statements.append(str(CreateTable(t, if_not_exists=True).compile(dialect=dialect)))
        statements += index_ddl(t, lambda name: name not in deferred)
        statements += t.info["after"]
    return statements


def index_ddl(t: Table, wanted: Any = lambda name: True) -> list[str]:
    """CREATE INDEX statements of ``t``'s secondary indexes whose name is ``wanted``."""
    dialect = postgresql.dialect()
    return [str(CreateIndex(ix, if_not_exists=True).compile(dialect=dialect))
            for ix in sorted(t.indexes, key=lambda ix: str(ix.name)) if wanted(str(ix.name))]
