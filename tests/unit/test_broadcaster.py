"""The live feed's broadcaster against a fake change feed: with nobody subscribed it only
follows the position; a subscriber who arrives meanwhile still gets every later change."""
from __future__ import annotations

import asyncio
from typing import Any

from services.api.live import Broadcaster, ChangeFilter


class Feed:
    """``changes`` rows 1..n and their cursor, as ``changes_after`` / ``last_cursor`` read them."""

    def __init__(self, n: int, on_position: Any = None) -> None:
        self.n, self.on_position, self.fetched = n, on_position, 0

    async def fetchval(self, query: str, *args: Any) -> int:
        assert "change_cursor" in query
        if self.on_position is not None:
            self.on_position()  # someone subscribes while the position is being read
        await asyncio.sleep(0)
        return self.n

    async def fetch(self, query: str, cursor: int, limit: int) -> list[dict[str, Any]]:
        rows = [{"cursor": c, "kind": "detentions", "region": "Almaty", "station_id": None,
                 "data": "{}"} for c in range(cursor + 1, min(self.n, cursor + limit) + 1)]
        self.fetched += len(rows)
        return rows


def test_with_nobody_subscribed_only_the_position_is_read() -> None:
    async def run() -> None:
        broadcaster, feed = Broadcaster("", ""), Feed(40)
        await broadcaster._drain(feed)
        assert broadcaster.cursor == 40 and feed.fetched == 0
    asyncio.run(run())


def test_a_subscriber_arriving_while_the_position_is_read_misses_nothing() -> None:
    async def run() -> None:
        broadcaster = Broadcaster("", "")
        broadcaster.cursor = 10
        subs = []
        feed = Feed(25, lambda: subs.append(broadcaster.subscribe(ChangeFilter())))
        await broadcaster._drain(feed)
        handed = [int(line[4:]) for line in (subs[0].catch_up() or "").splitlines()
                  if line.startswith("id: ")]
        assert handed == list(range(11, 26)) and broadcaster.cursor == 25
    asyncio.run(run())
