"""The change feed: every read-model change, with a gap-free cursor, for live push.

Written in the projector's batch transaction. The cursor comes from a one-row counter that
is row-locked until commit, so cursors become visible in increasing order even with several
projector workers: a reader that has seen cursor N never later finds a smaller one. The api's
live stream and the webhook worker read it with the one query ``changes_after``.
"""
from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from sqlalchemy import BigInteger, Column, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB

from saylau.ddl import READ, table
from saylau.readmodels.base import Change, ReadModel

CHANNEL = "saylau_changes"

changes = table(
    "changes", READ,
    Column("cursor", BigInteger, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("region", Text),
    Column("station_id", Text),
    Column("data", JSONB, nullable=False),
)

change_cursor = table(
    "change_cursor", READ,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
    after=("INSERT INTO change_cursor (id, value) VALUES (1, 0) ON CONFLICT DO NOTHING",),
)

READ_MODEL = ReadModel("changefeed", (changes, change_cursor), audited=False)


APPEND = """
WITH c AS (UPDATE change_cursor SET value = value + cardinality($1::text[]) WHERE id = 1
           RETURNING value - cardinality($1::text[]) AS before, value){notify}
INSERT INTO changes (cursor, kind, region, station_id, data)
SELECT c.before + t.i, t.kind, t.region, t.station_id, t.data::jsonb
FROM c{notified}, unnest($1::text[], $2::text[], $3::text[], $4::text[])
                  WITH ORDINALITY AS t(kind, region, station_id, data, i)
"""
"""Draw the next cursors (the counter's row lock is held to commit) and append the changes
in the order given, in one statement; with ``NOTIFY``, listeners hear the last cursor when
the transaction commits."""
APPEND_NOTIFY = APPEND.format(notify=", n AS (SELECT pg_notify($5, value::text) FROM c)",
                              notified=", n")
APPEND_QUIET = APPEND.format(notify="", notified="")


class ChangeFeed:
    """Appends changes to the ``changes`` table and NOTIFYs listeners at commit."""

    def __init__(self, notify: bool = True) -> None:
        self.notify = notify

    async def publish(self, conn: asyncpg.Connection, changed: list[Change]) -> None:
        if not changed:
            return
        columns = ([c["kind"] for c in changed], [c.get("region") for c in changed],
                   [c.get("station_id") for c in changed],
                   [orjson.dumps(c["data"]).decode() for c in changed])
        if self.notify:
            await conn.execute(APPEND_NOTIFY, *columns, CHANNEL)
        else:
            await conn.execute(APPEND_QUIET, *columns)


async def changes_after(conn: asyncpg.Connection, cursor: int, limit: int,
                        schema: str | None = None) -> list[dict[str, Any]]:
    """The next ``limit`` changes after ``cursor``, oldest first (``data`` as JSON text).

    ``schema`` names the read schema when it is not on the connection's ``search_path``.
    """
    source = f'"{schema}".changes' if schema else "changes"
    rows = await conn.fetch("SELECT cursor, kind, region, station_id, data::text AS data "
                            f"FROM {source} WHERE cursor > $1 ORDER BY cursor LIMIT $2",
                            cursor, limit)
    return [dict(r) for r in rows]


async def last_cursor(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT value FROM change_cursor WHERE id = 1") or 0)
