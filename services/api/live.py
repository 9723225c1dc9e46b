"""Live push: one LISTEN connection fans the change feed out to every subscriber.

PostgreSQL is read once per notification, never per client. Each drain of the feed is kept
once for everyone (its changes, and their SSE text joined once for the subscribers without a
filter), and each subscriber only keeps its position in it: a wake-up per drain hands a
subscriber everything it has not had in one write, so a hundred dashboards cost a hundred
writes per projector commit, not a hundred offers per change. The last ``KEEP`` changes (at
least) are kept; a subscriber that falls further behind (a client not reading) is dropped
with a ``resync`` message instead of slowing the others or the projector. A client
reconnecting with ``Last-Event-ID`` gets what it missed from the ``changes`` table, then the
live tail, with no gap and no duplicate.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

from saylau.domain.roles import NATIONAL, Reach
from saylau.readmodels.changefeed import CHANNEL, changes_after, last_cursor

log = logging.getLogger("saylau.api.live")
KEEP = 2000
"""Changes kept for subscribers that are behind (whole drains, at least this many)."""
FETCH_LIMIT = 5000


def sse(change: dict[str, Any]) -> str:
    """One change as an SSE message; its ``id`` is the cursor a client resumes from."""
    data = {"cursor": change["cursor"], "kind": change["kind"], "region": change["region"],
            "station_id": change["station_id"], "data": orjson.loads(change["data"])}
    return f"id: {change['cursor']}\nevent: change\ndata: {orjson.dumps(data).decode()}\n\n"


@dataclass
class ChangeFilter:
    """What a subscriber asked for (regions, stations, kinds: any when empty) within what it
    may see (``reach``: a regional principal's regions; changes with no region at all are
    national)."""

    regions: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    reach: Reach = NATIONAL

    @property
    def everything(self) -> bool:
        return self.reach.national and not (self.regions or self.stations or self.kinds)

    def wants(self, change: dict[str, Any]) -> bool:
        return (self.reach.sees(change["region"])
                and (not self.regions or change["region"] in self.regions)
                and (not self.stations or change["station_id"] in self.stations)
                and (not self.kinds or change["kind"] in self.kinds))


@dataclass(eq=False)
class Drained:
    """One drain of the feed: its changes, oldest first, and all their SSE text."""

    changes: list[dict[str, Any]]
    text: str

    @property
    def first(self) -> int:
        return int(self.changes[0]["cursor"])

    @property
    def last(self) -> int:
        return int(self.changes[-1]["cursor"])


@dataclass(eq=False)
class Subscriber:
    """A subscriber's filter and position: the last cursor it was handed (or greeted with)."""

    broadcaster: Broadcaster
    filter: ChangeFilter
    position: int
    overflowed: bool = False

    def catch_up(self) -> str | None:
        """The SSE text of the wanted changes after ``position`` (moving it), ``""`` if none;
        None when some were no longer kept (the subscriber fell behind)."""
        feed = self.broadcaster
        if self.overflowed or self.position < feed.dropped_to:
            self.overflowed = True
            return None
        parts = []
        for drained in feed.recent:
            if drained.last <= self.position:
                continue
            if self.filter.everything and drained.first > self.position:
                parts.append(drained.text)
            else:
                parts.extend(c["sse"] for c in drained.changes
                             if c["cursor"] > self.position and self.filter.wants(c))
            self.position = drained.last
        return "".join(parts)

    async def take(self, timeout: float) -> str | None:
        """What this subscriber wants that came since it last asked, waiting for it at most
        ``timeout`` seconds (``""`` then); None when it fell behind (send ``resync``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            text = self.catch_up()
            left = deadline - loop.time()
            if text is None or text or left <= 0:
                return text
            try:
                await asyncio.wait_for(asyncio.shield(self.broadcaster.tick), left)
            except TimeoutError:
                return ""


class Broadcaster:
    """Follows the change feed and hands each change to every interested subscriber."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.schema = dsn, schema
        self.subscribers: set[Subscriber] = set()
        self.cursor = 0
        self.recent: deque[Drained] = deque()
        self.kept = 0
        self.dropped_to = 0
        """The last cursor no longer kept: a subscriber before it has missed changes."""
        self._tick: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    @property
    def tick(self) -> asyncio.Future[None]:
        """Done at the next drain that hands out changes."""
        if self._tick is None or self._tick.done():
            self._tick = asyncio.get_running_loop().create_future()
        return self._tick

    def subscribe(self, change_filter: ChangeFilter) -> Subscriber:
        """A subscriber handed every change after the cursor followed now."""
        sub = Subscriber(self, change_filter, self.cursor)
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
                    self.recent.clear()
                    self.kept, self.dropped_to = 0, self.cursor
                    return
            rows = await changes_after(conn, self.cursor, FETCH_LIMIT)
            self.hand_out(rows)
            if len(rows) < FETCH_LIMIT:
                return

    def hand_out(self, rows: list[dict[str, Any]]) -> None:
        """Keep one drain's changes (each serialised once) and wake the subscribers."""
        if not rows:
            return
        for change in rows:
            change["sse"] = sse(change)
        self.recent.append(Drained(rows, "".join(c["sse"] for c in rows)))
        self.kept += len(rows)
        self.cursor = rows[-1]["cursor"]
        while self.kept - len(self.recent[0].changes) >= KEEP:
            dropped = self.recent.popleft()
            self.kept -= len(dropped.changes)
            self.dropped_to = dropped.last
        if self._tick is not None and not self._tick.done():
            self._tick.set_result(None)
