"""Compare two read-model schemas table by table: row counts, checksums, differing rows.

The checksum is computed in PostgreSQL: the md5 of each row's text (columns in table order),
aggregated in primary-key order and hashed again, so it is deterministic, independent of
physical row order, and never builds a string the size of the table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Table

from saylau.readmodels import audited_tables


@dataclass
class TableComparison:
    table: str
    rows: tuple[int, int]
    checksums: tuple[str, str]
    only_left: list[dict[str, Any]] = field(default_factory=list)
    only_right: list[dict[str, Any]] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.rows[0] == self.rows[1] and self.checksums[0] == self.checksums[1]


class MissingSchema(Exception):
    """A schema to compare does not exist or lacks a read-model table."""


def _columns(table: Table) -> str:
    return ", ".join(f'"{c.name}"' for c in table.columns)


def checksum_sql(schema: str, table: Table) -> str:
    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    return (f'SELECT count(*) AS n, md5(COALESCE(string_agg(md5(ROW({_columns(table)})::text), '
            f"'' ORDER BY {order}), '')) AS checksum FROM \"{schema}\".\"{table.name}\"")


def difference_sql(left: str, right: str, table: Table, limit: int) -> str:
    cols = _columns(table)
    return (f'(SELECT {cols} FROM "{left}"."{table.name}" EXCEPT ALL '
            f'SELECT {cols} FROM "{right}"."{table.name}") LIMIT {int(limit)}')


async def ensure_schemas(conn: asyncpg.Connection, *schemas: str) -> None:
    for schema in schemas:
        present = {r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)}
        missing = [t.name for t in audited_tables() if t.name not in present]
        if missing:
            raise MissingSchema(f"schema {schema!r} has no table {missing[0]!r}"
                                if present else f"no schema {schema!r}")


async def compare(conn: asyncpg.Connection, left: str, right: str,
                  limit: int = 20) -> list[TableComparison]:
    """Every audited table of ``READ_MODELS`` in ``left`` against ``right``, in one snapshot."""
    await ensure_schemas(conn, left, right)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await compare_tables(conn, left, right, limit)


async def compare_tables(conn: asyncpg.Connection, left: str, right: str,
                         limit: int = 20) -> list[TableComparison]:
    """Every audited table of ``READ_MODELS`` in ``left`` against ``right``, in the caller's
    transaction."""
    out = []
    for table in audited_tables():
        a = await conn.fetchrow(checksum_sql(left, table))
        b = await conn.fetchrow(checksum_sql(right, table))
        found = TableComparison(table.name, (a["n"], b["n"]), (a["checksum"], b["checksum"]))
        if not found.equal:
            found.only_left = [dict(r) for r in
                               await conn.fetch(difference_sql(left, right, table, limit))]
            found.only_right = [dict(r) for r in
                                await conn.fetch(difference_sql(right, left, table, limit))]
        out.append(found)
    return out


Identity = dict[int, tuple[int, str | None, str | None]]
"""Per partition: the next offset, the topic id and the chain head a schema recorded."""


def identity_differences(left: str, left_ids: Identity, right: str,
                         right_ids: Identity) -> list[str]:
    """Where two schemas disagree on the log they came from: the topic's id, or the chain
    head at a partition both reached to the same offset. What one side never recorded (an
    export replay has no topic id) is no difference. Pure."""
    found = []
    ids = ({i for _, i, _ in left_ids.values() if i}, {i for _, i, _ in right_ids.values() if i})
    if ids[0] and ids[1] and ids[0] != ids[1]:
        found.append(f"topic id: {left} {', '.join(sorted(ids[0]))}, "
                     f"{right} {', '.join(sorted(ids[1]))}")
    for p in sorted(set(left_ids) & set(right_ids)):
        (lo, _, lh), (ro, _, rh) = left_ids[p], right_ids[p]
        if lo == ro and lo > 0 and lh != rh:
            found.append(f"partition {p} at offset {lo}: chain head {left} {lh or 'none'}, "
                         f"{right} {rh or 'none'}")
    return found


async def recorded_identity(conn: asyncpg.Connection, schema: str, topic: str) -> Identity:
    """What ``schema`` recorded about the log of ``topic`` (``projector_offsets``)."""
    rows = await conn.fetch(f'SELECT kafka_partition, next_offset, topic_id, chain_head FROM '
                            f'"{schema}".projector_offsets WHERE topic = $1', topic)
    return {r["kafka_partition"]: (r["next_offset"], r["topic_id"], r["chain_head"])
            for r in rows}

