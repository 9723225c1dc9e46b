"""Live push: one LISTEN connection fans the change feed out to every subscriber.

PostgreSQL is read once per notification, never per client. Each subscriber has a bounded
queue; one that falls behind is dropped with a ``resync`` message instead of slowing the
others or the projector. A client reconnecting with ``Last-Event-ID`` gets what it missed
from the ``changes`` table, then the live tail, with no gap and no duplicate.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

from saylau.readmodels.changefeed import CHANNEL, changes_after, last_cursor

log = logging.getLogger("saylau.api.live")
QUEUE_SIZE = 2000
FETCH_LIMIT = 5000
MAX_COALESCED = 500


def sse(change: dict[str, Any]) -> str:
    """One change as an SSE message; its ``id`` is the cursor a client resumes from."""
    data = {"cursor": change["cursor"], "kind": change["kind"], "region": change["region"],
            "station_id": change["station_id"], "data": orjson.loads(change["data"])}
    return f"id: {change['cursor']}\nevent: change\ndata: {orjson.dumps(data).decode()}\n\n"


@dataclass
class ChangeFilter:
    regions: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)

    def wants(self, change: dict[str, Any]) -> bool:
        return ((not self.regions or change["region"] in self.regions)
                and (not self.stations or change["station_id"] in self.stations)
                and (not self.kinds or change["kind"] in self.kinds))


@dataclass(eq=False)
class Subscriber:
    filter: ChangeFilter
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, change: dict[str, Any]) -> None:
        if self.overflowed or not self.filter.wants(change):
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)  # tells the stream to send "resync" and close

    async def take(self, timeout: float) -> list[dict[str, Any] | None]:
        """What is queued (one write to the socket for many changes); [] after ``timeout``."""
        try:
            items = [await asyncio.wait_for(self.queue.get(), timeout)]
        except TimeoutError:
            return []
        while not self.queue.empty() and len(items) < MAX_COALESCED:
            items.append(self.queue.get_nowait())
        return items


class Broadcaster:
    """Follows the change feed and hands each change to every interested subscriber."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.schema = dsn, schema
        self.subscribers: set[Subscriber] = set()
        self.cursor = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def subscribe(self, change_filter: ChangeFilter) -> Subscriber:
        sub = Subscriber(change_filter)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def _run(self) -> None:
        """Follow the feed; any loss of it (but cancellation) means reconnect a second later."""
        retrying = AsyncRetrying(retry=retry_if_exception_type(Exception), wait=wait_fixed(1),
                                 before_sleep=self._lost)
        await retrying(self._follow)

    def _lost(self, state: RetryCallState) -> None:
        self.connected = False
        log.warning("change feed connection lost (%s); reconnecting",
                    state.outcome.exception() if state.outcome else None)

    async def _follow(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        try:
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            if not self.cursor:
                self.cursor = await last_cursor(conn)
            self.connected = True
            while True:
                await self._drain(conn)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=5)
                except TimeoutError:
                    await conn.fetchval("SELECT 1")  # notice a dead connection
                self._wake.clear()
        finally:
            await conn.close()

    async def _drain(self, conn: asyncpg.Connection) -> None:
        while True:
            if not self.subscribers:  # nobody to hand changes to: only the position matters
                last = await last_cursor(conn)
                if not self.subscribers:  # (one who came meanwhile gets every change after
                    self.cursor = max(self.cursor, last)  # the cursor it was greeted with)
                    return
            rows = await changes_after(conn, self.cursor, FETCH_LIMIT)
            for change in rows:
                change["sse"] = sse(change)  # serialised once, not once per subscriber
                for sub in list(self.subscribers):
                    sub.offer(change)
            if rows:
                self.cursor = rows[-1]["cursor"]
            if len(rows) < FETCH_LIMIT:
                return
