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

from saylau.readmodels.base import Change, ReadModel
from saylau.store.ddl import READ, table

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


NEXT_CURSOR = "UPDATE change_cursor SET value = value + $1 WHERE id = 1 RETURNING value"
NEXT_CURSOR_NOTIFY = (f"WITH c AS ({NEXT_CURSOR}) "
                      "SELECT c.value FROM c, LATERAL pg_notify($2, c.value::text)")


class ChangeFeed:
    """Appends changes to the ``changes`` table and NOTIFYs listeners at commit."""

    def __init__(self, notify: bool = True) -> None:
        self.notify = notify

    async def publish(self, conn: asyncpg.Connection, changed: list[Change]) -> None:
        """Append ``changed``, each placed in its station's registered region when it has one
        (``registered_regions``), so a regional reader's live stream and webhooks hold it."""
        if not changed:
            return
        registered = await registered_regions(conn, changed)
        if self.notify:  # one round trip: listeners hear of it at commit either way
            last = await conn.fetchval(NEXT_CURSOR_NOTIFY, len(changed), CHANNEL)
        else:
            last = await conn.fetchval(NEXT_CURSOR, len(changed))
        first = last - len(changed) + 1
        await conn.copy_records_to_table("changes", columns=(
            "cursor", "kind", "region", "station_id", "data"), records=[
            (first + i, c["kind"], registered.get(c.get("station_id"), c.get("region")),
             c.get("station_id"),
             orjson.dumps(c["data"]).decode()) for i, c in enumerate(changed)])


async def registered_regions(conn: asyncpg.Connection,
                             changed: list[Change]) -> dict[str | None, str]:
    """The registry's region of each station the changes name: a station's region is its
    registry entry (the latest), else the report's place (issue 31). One query per batch."""
    stations = sorted({c["station_id"] for c in changed if c.get("station_id")})
    if not stations:
        return {}
    rows = await conn.fetch("SELECT station_id, region FROM station_registry "
                            "WHERE station_id = ANY($1::text[]) AND region IS NOT NULL",
                            stations)
    return {r["station_id"]: r["region"] for r in rows}


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
