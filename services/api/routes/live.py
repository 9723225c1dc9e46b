"""GET /v1/live: the change feed as Server-Sent Events, resumable with Last-Event-ID."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from saylau.readmodels import changefeed
from saylau.web.input import JSON_INT_MAX, parse_cursor
from services.api.deps import BroadcasterDep, PoolDep, ReaderDep
from services.api.live import Broadcaster, ChangeFilter, Subscriber, sse

router = APIRouter()
BACKFILL_LIMIT = 10000
KEEPALIVE_SECONDS = 15


class EventStream(StreamingResponse):
    """Server-Sent Events (what the document says ``/v1/live`` answers)."""

    media_type = "text/event-stream"


SSE_EVENT = {
    "type": "object", "required": ["event", "data"],
    "description": "One Server-Sent Event: `hello` first (with `retry`), then a `change` per "
                   "read-model change; `caught_up` after a resumed stream's backlog; "
                   "`resync` when the client fell too far behind (the stream then ends).",
    "properties": {
        "event": {"enum": ["hello", "change", "caught_up", "resync"]},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": "hello, caught_up: {cursor}; change: {cursor, kind, region, "
                                "station_id, data}; resync: {reason}"},
        "id": {"type": "string", "pattern": "^[0-9]+$",
               "description": "a change's cursor: resume after it with Last-Event-ID"},
        "retry": {"type": "integer", "minimum": 0}}}


@router.get("/v1/live", response_class=EventStream, responses={
    200: {"content": {EventStream.media_type: {"schema": SSE_EVENT}}}},
    openapi_extra={"security": [{"access_token": []}]})
async def live(who: ReaderDep, db: PoolDep, broadcaster: BroadcasterDep,
               region: str | None = None, station: str | None = None,
               kinds: str | None = None, cursor: int | None = Query(None, ge=0, le=JSON_INT_MAX),
               last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events: each read-model change with its cursor (resume: Last-Event-ID);
    a caller bound to regions receives only changes of her regions, resumed ones too."""
    start = parse_cursor(last_event_id, cursor)
    wanted = ChangeFilter(split(region), split(station), split(kinds), who.reach)
    return StreamingResponse(stream_changes(broadcaster, db, wanted, start),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def split(values: str | None) -> set[str]:
    return set(filter(None, (values or "").split(",")))


def sse_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {orjson.dumps(data).decode()}\n\n"


async def stream_changes(broadcaster: Broadcaster, db: asyncpg.Pool, wanted: ChangeFilter,
                         start: int | None) -> AsyncIterator[str]:
    sub = broadcaster.subscribe(wanted)
    try:
        sent = sub.position if start is None else start
        yield "retry: 1000\n" + sse_event("hello", {"cursor": sent})
        if start is not None:
            missed = await backfill(db, wanted, start)
            if missed is None:
                yield sse_event("resync", {"reason": "too far behind"})
                return
            text, sent = missed
            yield text
        async for text in live_tail(sub, sent):
            yield text
    finally:
        broadcaster.unsubscribe(sub)


async def backfill(db: asyncpg.Pool, wanted: ChangeFilter,
                   start: int) -> tuple[str, int] | None:
    """The changes after ``start`` from the table, ending in ``caught_up``; None if too many."""
    async with db.acquire() as conn:
        missed = await changefeed.changes_after(conn, start, BACKFILL_LIMIT)
    if len(missed) == BACKFILL_LIMIT:
        return None
    sent = missed[-1]["cursor"] if missed else start
    shown = [c for c in missed if wanted.wants(c)]
    text = "".join(sse(c) for c in shown)
    return text + sse_event("caught_up", {"cursor": sent, "missed": len(shown)}), sent


async def live_tail(sub: Subscriber, sent: int) -> AsyncIterator[str]:
    """What the subscriber wants past ``sent``, everything new in one write; a keepalive
    when quiet; ends with ``resync`` when it fell behind."""
    sub.position = sent
    while True:
        text = await sub.take(KEEPALIVE_SECONDS)
        if text is None:
            yield sse_event("resync", {"reason": "subscriber too slow"})
            return
        yield text or ": keepalive\n\n"
