"""Answers of the hot reads kept until the read models change (``READ_CACHE_SECONDS``).

On election night a hundred screens and partners ask the same views many times a second,
while the read models change once per projector batch. So the api keeps each answer of a
hot read (``GET`` of the paths in ``CACHED``, status 200, JSON or GeoJSON) together with the change-feed
cursor its worker had seen when it computed it, and answers the same request from memory
while that cursor has not moved and the answer is younger than ``READ_CACHE_SECONDS``
(default 0.5 s: the bound on how long a view can lag a change this worker has not been told
of yet, and on answers that depend on the clock).

When the feed moves, the first request for a read asks the route again; requests for the
same read that arrive while it is being computed get the previous answer at once if it is
still younger than ``READ_CACHE_SECONDS`` (so a view never lags by more than that bound),
and otherwise wait for the new one instead of asking PostgreSQL again. Fifty screens asking
at once after a change cost one query, and none of them waits for it but the one that
asked. An answer is only ever served to the same credential (``Authorization`` header,
``access_token``, session cookie) that obtained it through the full route, so a reader never
sees what an auditor's key unsealed, a principal bound to regions never gets an answer
computed for a national one (the credential decides the reach), and bad or revoked keys
still get their 401 from the route. ``0`` turns it off. Each worker keeps its own (at most ``MAX_ENTRIES`` answers of at
most ``MAX_BYTES``; answers too old to be given are dropped whenever the feed moves).
"""
from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CACHED = re.compile(r"^/v1/(breaches(/summary|/[^/]+/events)?|detentions|events/[^/]+"
                    r"|map/(regions|stations)|quickcount|regions(/[^/]+/(stations|turnout))?"
                    r"|stations(/[^/]+(/incidents|/timeline)?)?|timeline|triage)$")
MAX_ENTRIES = 2000
MAX_BYTES = 2 * 1024 * 1024
KEPT_HEADERS = {b"content-type", b"content-length", b"content-encoding", b"cache-control",
                b"etag", b"vary"}
KEPT_TYPES = (b"application/json", b"application/geo+json")
Entry = tuple[float, int, list[tuple[bytes, bytes]], bytes]
"""When it was computed, the change-feed cursor it was computed at, its headers, its body."""
ANSWERS = Counter("saylau_api_read_cache_answers", "Hot reads by where the answer came from "
                  "(memory; route; previous: the answer before a change, given while the "
                  "route computes the new one)", ["source"])


class ReadCache:
    """ASGI middleware (inside the request ids and security headers, which stay per request)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds
        self.cursor: int | None = None
        self.entries: dict[tuple[Any, ...], Entry] = {}
        self.computing: dict[tuple[int, tuple[Any, ...]], asyncio.Future[Entry | None]] = {}
        """Reads being answered by the route, by cursor: a request for the same read at the
        same cursor gets the previous answer or waits for this one instead of asking
        PostgreSQL again."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.seconds <= 0 or scope["type"] != "http" or scope["method"] != "GET"
                or not CACHED.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        broadcaster = getattr(scope["app"].state, "broadcaster", None)
        cursor = broadcaster.cursor if broadcaster is not None and broadcaster.connected else None
        if cursor is None:  # not following the change feed: no way to know what changed
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        if cursor != self.cursor:
            self.cursor = cursor
            self.entries = {k: e for k, e in self.entries.items() if now - e[0] < self.seconds}
        key = request_key(scope)
        kept = self.entries.get(key)
        young = kept if kept is not None and now - kept[0] < self.seconds else None
        if young is not None and young[1] == cursor:
            await self._answer(send, young, "memory")
            return
        computing = self.computing.get((cursor, key))
        if computing is not None:
            if young is not None:  # the feed moved and the new answer is being computed:
                await self._answer(send, young, "previous")  # the previous one
                return
            kept = await asyncio.shield(computing)
            if kept is not None and now - kept[0] < self.seconds:
                await self._answer(send, kept, "memory")
                return
        ANSWERS.labels("route").inc()
        done: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self.computing.setdefault((cursor, key), done)
        try:
            await self.app(scope, receive, self._keeping(send, key, cursor, now))
        finally:
            if self.computing.get((cursor, key)) is done:
                del self.computing[(cursor, key)]
            computed = self.entries.get(key)
            done.set_result(computed if computed is not None and computed[1] == cursor
                            and computed[0] == now else None)

    @staticmethod
    async def _answer(send: Send, kept: Entry, source: str) -> None:
        ANSWERS.labels(source).inc()
        await send({"type": "http.response.start", "status": 200, "headers": kept[2]})
        await send({"type": "http.response.body", "body": kept[3]})

    def _keeping(self, send: Send, key: tuple[Any, ...], cursor: int, at: float) -> Send:
        """``send``, also keeping a whole 200 JSON answer for ``key``."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, cursor, at, start, b"".join(chunks))
            await send(message)

        return keep

    def _store(self, key: tuple[Any, ...], cursor: int, at: float, start: Message,
               body: bytes) -> None:
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() in KEPT_HEADERS]
        json = any(k.lower() == b"content-type" and v.startswith(KEPT_TYPES)
                   for k, v in headers)
        if start["status"] != 200 or not json or len(body) > MAX_BYTES:
            return
        kept = self.entries.get(key)
        if kept is not None and (kept[1], kept[0]) > (cursor, at):
            return  # a newer answer was kept while this one was computed
        if kept is None and len(self.entries) >= MAX_ENTRIES:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (at, cursor, headers, body)


def request_key(scope: Scope) -> tuple[Any, ...]:
    """The request as far as the answer depends on it: path, query, the credential and the
    encodings it accepts (the map's answers are gzipped for those who take it)."""
    credential = tuple(v for k, v in scope["headers"]
                       if k in (b"authorization", b"cookie", b"accept-encoding"))
    return scope["path"], scope.get("query_string", b""), credential
