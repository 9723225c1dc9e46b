"""The change feed: every read-model change, with a gap-free cursor, for live push.

Written in the projector's batch transaction. The cursor comes from a one-row counter that
is row-locked until commit, so cursors become visible in increasing order even with several
projector workers: a reader that has seen cursor N never later finds a smaller one.
"""
from __future__ import annotations

from typing import Any

import asyncpg
import orjson

CHANNEL = "saylau_changes"


class ChangeFeed:
    """Appends changes to the ``changes`` table and NOTIFYs listeners at commit."""

    def __init__(self, notify: bool = True) -> None:
        self.notify = notify

    async def publish(self, conn: asyncpg.Connection, changes: list[dict[str, Any]]) -> None:
        if not changes:
            return
        last = await conn.fetchval(
            "UPDATE change_cursor SET value = value + $1 WHERE id = 1 RETURNING value",
            len(changes))
        first = last - len(changes) + 1
        await conn.copy_records_to_table("changes", columns=(
            "cursor", "kind", "region", "station_id", "data"), records=[
            (first + i, c["kind"], c.get("region"), c.get("station_id"),
             orjson.dumps(c["data"]).decode()) for i, c in enumerate(changes)])
        if self.notify:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(last))
