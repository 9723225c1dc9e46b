"""Live push: every read-model change on ``GET /v1/live``, resumable, and no slow client
holding the others back."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from saylau.readmodels.changefeed import ChangeFeed
from saylau.settings import Settings
from saylau.store.ddl import ddl
from services.api import live
from services.api.live import Broadcaster, ChangeFilter
from services.api.routes.live import live_tail
from tests.factories import detention, unique
from tests.stack import Stack, wait_until

READ_TIMEOUT = 45.0  # longer than the stream's 15 s keepalive


@dataclass(frozen=True)
class Message:
    event: str
    data: dict[str, Any]
    id: str | None


def parse_sse(lines: Iterator[str]) -> Iterator[Message]:
    """Server-Sent Events as the browser reads them (comments skipped, fields joined)."""
    event, data, last_id = "message", [], None
    for line in lines:
        if not line:
            if data:
                yield Message(event, orjson.loads("\n".join(data)), last_id)
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value


@contextmanager
def live_reply(stack: Stack, last_event_id: int | None = None, key: str | None = None,
               **params: str) -> Iterator[httpx.Response]:
    """The open answer of ``GET /v1/live`` (200, an event stream), its body not read yet."""
    headers = {"Authorization": f"Bearer {key or stack.reader_key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
    with httpx.Client(timeout=timeout) as client, client.stream(
            "GET", f"{stack.api_url}/v1/live", params=params, headers=headers) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        yield reply


@contextmanager
def live_stream(stack: Stack, last_event_id: int | None = None, key: str | None = None,
                **params: str) -> Iterator[Iterator[Message]]:
    with live_reply(stack, last_event_id, key, **params) as reply:
        yield parse_sse(reply.iter_lines())


def read_until(stream: Iterator[Message], done: Callable[[list[Message]], bool],
               seconds: float = 60.0) -> list[Message]:
    """Messages in arrival order, up to and including the one that makes ``done`` true."""
    seen: list[Message] = []
    deadline = time.monotonic() + seconds
    while not done(seen):
        assert time.monotonic() < deadline, f"gave up after {seconds}s; saw {seen[-5:]}"
        seen.append(next(stream))
    return seen


def event_ids(messages: list[Message]) -> list[str]:
    return [m.data["data"]["event_id"] for m in messages
            if m.event == "change" and m.data["kind"] == "event"]


def test_posted_event_arrives_on_the_stream(stack: Stack) -> None:
    city = unique()
    report = detention(city, 7)
    with live_stream(stack, kinds="event,detentions") as stream:
        hello = next(stream)
        assert hello.event == "hello" and hello.data["cursor"] >= 0
        assert stack.post(report).status_code == 202
        seen = read_until(stream, lambda s: report["event_id"] in event_ids(s) and any(
            m.data["kind"] == "detentions" and m.data["data"]["city"] == city for m in s))
    counts = next(m.data for m in seen if m.data["kind"] == "detentions"
                  and m.data["data"]["city"] == city)
    assert counts["data"] == {"region": "Almaty", "city": city, "detained_total": 7,
                              "released_total": 0, "detained_now": 7}
    assert counts["region"] == "Almaty" and counts["station_id"] is None
    assert {m.data["kind"] for m in seen} <= {"event", "detentions"}
    assert all(m.id == str(m.data["cursor"]) for m in seen)


def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(stack: Stack) -> None:
    first = detention(unique(), 1)
    with live_stream(stack) as stream:
        next(stream)
        assert stack.post(first).status_code == 202
        seen = read_until(stream, lambda s: first["event_id"] in event_ids(s))
    last = int(seen[-1].data["cursor"])

    missed = [detention(unique(), n) for n in (2, 3, 4)]
    assert stack.post_batch(missed).status_code == 200
    for report in missed:
        wait_until(lambda r=report: stack.get(f"/v1/events/{r['event_id']}").status_code == 200)

    after = detention(unique(), 5)
    with live_stream(stack, last_event_id=last, cursor="0") as stream:  # the header wins
        hello = next(stream)
        assert hello.event == "hello" and hello.data["cursor"] == last
        backfill = read_until(stream, lambda s: s[-1:] != [] and s[-1].event == "caught_up")
        assert stack.post(after).status_code == 202
        tail = read_until(stream, lambda s: after["event_id"] in event_ids(s))

    cursors = [m.data["cursor"] for m in backfill + tail if m.event == "change"]
    assert cursors == list(range(last + 1, last + 1 + len(cursors))), "gap or duplicate"
    assert backfill[-1].data["cursor"] == backfill[-2].data["cursor"]  # caught_up: last sent
    assert sorted(event_ids(backfill)) == sorted(r["event_id"] for r in missed)
    assert event_ids(tail) == [after["event_id"]]
    assert first["event_id"] not in event_ids(backfill + tail)


def test_resume_with_a_filter_skips_what_it_does_not_want(stack: Stack) -> None:
    region = unique("region")
    with live_stream(stack) as stream:
        start = next(stream).data["cursor"]
    reports = [detention(unique(), 1), detention(unique(), 2, region=region)]
    assert stack.post_batch(reports).status_code == 200
    for report in reports:
        wait_until(lambda r=report: stack.get(f"/v1/events/{r['event_id']}").status_code == 200)
    with live_stream(stack, cursor=str(start), region=region) as stream:
        seen = read_until(stream, lambda s: s[-1:] != [] and s[-1].event == "caught_up")
    changes = [m for m in seen if m.event == "change"]
    assert changes and {m.data["region"] for m in changes} == {region}
    assert event_ids(changes) == [reports[1]["event_id"]]


# --- a slow subscriber, against the real PostgreSQL change feed ----------------------------

@pytest.fixture
async def feed_schema() -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A throw-away read-model schema and a connection writing into it."""
    dsn, schema = Settings().dsn, "tlive_" + uuid.uuid4().hex[:10]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    for statement in ddl(schema):
        await conn.execute(statement)
    yield dsn, conn
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


def a_change(n: int) -> dict[str, Any]:
    return {"kind": "event", "region": "Almaty", "station_id": None,
            "data": {"event_id": str(uuid.uuid4()), "type": "detention.reported", "n": n}}


async def test_slow_subscriber_gets_resync_while_fast_one_keeps_up(
        feed_schema: tuple[str, asyncpg.Connection]) -> None:
    dsn, conn = feed_schema
    schema = await conn.fetchval("SELECT current_schema()")
    broadcaster = Broadcaster(dsn, schema)
    await broadcaster.start()
    try:
        await wait_for_async(lambda: broadcaster.connected)
        fast = broadcaster.subscribe(ChangeFilter())
        slow = broadcaster.subscribe(ChangeFilter())  # never reads
        # more than a drain can fetch plus what is kept: the slow one's changes are dropped
        batches, size = 8, (live.FETCH_LIMIT + live.KEEP) // 7
        arrived: dict[int, float] = {}

        async def read_fast() -> None:
            while len(arrived) < batches * size:
                text = await fast.take(READ_TIMEOUT)
                assert text is not None, "the fast subscriber was dropped"
                for line in text.splitlines():
                    if line.startswith("id: "):
                        arrived[int(line[4:])] = time.monotonic()

        reader = asyncio.create_task(read_fast())
        committed = {}
        for batch in range(batches):
            async with conn.transaction():
                await ChangeFeed().publish(conn, [a_change(n) for n in range(size)])
            committed[(batch + 1) * size] = time.monotonic()
        await asyncio.wait_for(reader, 20)
    finally:
        await broadcaster.stop()

    assert sorted(arrived) == list(range(1, batches * size + 1))
    delays = [arrived[last] - at for last, at in committed.items()]
    assert max(delays) < 1.0, f"fast subscriber delayed by {max(delays):.2f}s"
    assert slow.catch_up() is None and slow.overflowed
    assert broadcaster.cursor == batches * size  # the feed itself was never held back
    assert broadcaster.kept < live.KEEP + live.FETCH_LIMIT  # and memory stayed bounded


async def test_a_subscriber_that_fell_behind_gets_resync_and_no_backlog() -> None:
    broadcaster = Broadcaster("", "")
    sub = broadcaster.subscribe(ChangeFilter())
    for first in range(1, 3 * live.KEEP, 100):  # drains of 100 changes the stream never read
        broadcaster.hand_out([{"cursor": n, "kind": "event", "region": None,
                               "station_id": None, "data": "{}"}
                              for n in range(first, first + 100)])
    async def stream() -> list[str]:
        return [text async for text in live_tail(sub, 0)]
    sent = await asyncio.wait_for(stream(), 5)  # it ends (no endless backlog and keepalives)
    assert sent and sent[-1].startswith("event: resync\n")
    assert all("id:" not in text for text in sent)  # the backlog is dropped, not replayed


async def test_each_subscriber_gets_what_its_filter_wants_once_in_one_write() -> None:
    broadcaster = Broadcaster("", "")
    everything = broadcaster.subscribe(ChangeFilter())
    almaty = broadcaster.subscribe(ChangeFilter(regions={"Almaty"}))

    def change(n: int, region: str) -> dict[str, Any]:
        return {"cursor": n, "kind": "event", "region": region, "station_id": None,
                "data": "{}"}

    broadcaster.hand_out([change(1, "Almaty"), change(2, "Astana")])
    broadcaster.hand_out([change(3, "Astana"), change(4, "Almaty")])
    ids = [[int(line[4:]) for line in (text or "").splitlines() if line.startswith("id: ")]
           for text in (await everything.take(1), await almaty.take(1))]
    assert ids == [[1, 2, 3, 4], [1, 4]]
    assert await everything.take(0.05) == "" and await almaty.take(0.05) == ""  # keepalive
    waiting = asyncio.create_task(almaty.take(5))
    await asyncio.sleep(0.01)
    broadcaster.hand_out([change(5, "Astana")])  # not wanted: it keeps waiting
    await asyncio.sleep(0.01)
    assert not waiting.done()
    broadcaster.hand_out([change(6, "Almaty")])
    assert "id: 6\n" in (await asyncio.wait_for(waiting, 1) or "")


async def wait_for_async(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.05)
