"""Pipeline phases: HTTP POST → Kafka → projector → visible in PostgreSQL, timed."""
from __future__ import annotations

import asyncio
import bisect
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from bench.http_load import Connection
from tests.stack import Stack


async def visible(conn: asyncpg.Connection, topic: str) -> dict[int, int]:
    """Next offset per partition that the projector has committed, read models included."""
    rows = await conn.fetch(f'SELECT kafka_partition, next_offset FROM "{topic_schema(topic)}"'
                            ".projector_offsets WHERE topic = $1", topic)
    return {r["kafka_partition"]: r["next_offset"] for r in rows}


def topic_schema(topic: str) -> str:
    return topic.removesuffix(".events")


async def settle(conn: asyncpg.Connection, topic: str, timeout: float,
                 quiet: float = 1.0) -> None:
    """Until the visible offsets stop moving for ``quiet`` seconds (the projector caught up
    with what was posted), at most ``timeout`` seconds."""
    deadline, last, since = time.perf_counter() + timeout, None, time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            now_seen = sum((await visible(conn, topic)).values())
        except asyncpg.UndefinedTableError:
            now_seen = 0
        if now_seen != last:
            last, since = now_seen, time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            return
        await asyncio.sleep(0.1)


async def wait_visible(conn: asyncpg.Connection, topic: str, total: int,
                       timeout: float) -> tuple[int, float, float | None]:
    """(events visible, time the last became visible, time the first did) within ``timeout``."""
    deadline, first, seen = time.perf_counter() + timeout, None, 0
    while time.perf_counter() < deadline:
        try:
            seen = sum((await visible(conn, topic)).values())
        except asyncpg.UndefinedTableError:
            seen = 0
        now = time.perf_counter()
        if seen and first is None:
            first = now
        if seen >= total:
            return seen, now, first
        await asyncio.sleep(0.01)
    return seen, time.perf_counter(), first


@dataclass
class Load:
    """What a load phase sent and got back."""

    started: float = 0.0
    finished: float = 0.0
    accepted: int = 0
    other: int = 0
    sent: list[tuple[float, int, int]] = field(default_factory=list)  # (time, partition, off)


async def post_batches(stack: Stack, bodies: list[bytes], seconds: float, clients: int) -> Load:
    """Closed loop: ``clients`` connections POST the batch ``bodies`` until ``seconds`` pass."""
    load, each = Load(started=time.perf_counter()), iter(bodies)

    async def client() -> None:
        conn = Connection("127.0.0.1", stack.ingest_port, stack.writer_key)
        while time.perf_counter() - load.started < seconds and (body := next(each, None)):
            code, answer = await conn.post("/v1/events:batch", body)
            if code != 200:
                raise RuntimeError(f"batch answered {code}: {str(answer)[:300]}")
            load.accepted += answer["accepted"]
            load.other += len(answer["results"]) - answer["accepted"]
        await conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    load.finished = time.perf_counter()
    return load


async def post_singles(stack: Stack, bodies: list[bytes], seconds: float, clients: int) -> Load:
    """Closed loop: ``clients`` connections POST one event at a time."""
    load, each = Load(started=time.perf_counter()), iter(bodies)

    async def client() -> None:
        conn = Connection("127.0.0.1", stack.ingest_port, stack.writer_key)
        while time.perf_counter() - load.started < seconds and (body := next(each, None)):
            code, _ = await conn.post("/v1/events", body)
            load.accepted += code == 202
            load.other += code != 202
        await conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    load.finished = time.perf_counter()
    return load


MAX_CONNECTIONS = 64
"""Connections an open-loop load opens at most (a partner's client pool, not one a request)."""


async def post_at_rate(stack: Stack, items: list[dict[str, Any]], rate: int, seconds: float,
                       per_post: int = 20) -> Load:
    """Open loop: ``per_post`` events every ``per_post / rate`` s, whatever the answers (one
    event: a single ``POST /v1/events``; more: ``/v1/events:batch``)."""
    load, idle = Load(started=time.perf_counter()), asyncio.Queue[Connection]()
    opened = 0

    async def one(chunk: list[dict[str, Any]], due: float) -> None:
        nonlocal opened
        if idle.empty() and opened < MAX_CONNECTIONS:
            opened += 1
            idle.put_nowait(Connection("127.0.0.1", stack.ingest_port, stack.writer_key))
        conn = await idle.get()  # past the cap, a request waits for a connection: overload
        sent_at = due  # the delay counts from when it was due (no coordinated omission)
        if per_post == 1:  # a single POST, as most partners send
            code, body = await conn.post("/v1/events", orjson.dumps(chunk[0]))
            idle.put_nowait(conn)
            if code not in (200, 202):
                raise RuntimeError(f"POST answered {code}: {str(body)[:300]}")
            body = {"results": [{"code": code, **body}], "accepted": int(code == 202)}
        else:
            code, body = await conn.post("/v1/events:batch", orjson.dumps(chunk))
            idle.put_nowait(conn)
            if code != 200:
                raise RuntimeError(f"batch answered {code}: {str(body)[:300]}")
        for r in body["results"]:
            if r["code"] == 202:
                load.sent.append((sent_at, r["partition"], r["offset"]))
        load.accepted += body["accepted"]

    tasks, interval = [], per_post / rate
    for k, i in enumerate(range(0, min(len(items), int(rate * seconds)), per_post)):
        due = load.started + k * interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(items[i:i + per_post], due)))
    await asyncio.gather(*tasks)
    load.finished = time.perf_counter()
    while not idle.empty():
        await idle.get_nowait().close()
    return load


async def watch_offsets(conn: asyncpg.Connection, topic: str, stop: asyncio.Event,
                        every: float = 0.005) -> list[tuple[float, dict[int, int]]]:
    """Snapshots of the visible offsets, every ``every`` seconds until ``stop``."""
    snapshots = []
    while not stop.is_set():
        try:
            snapshots.append((time.perf_counter(), await visible(conn, topic)))
        except asyncpg.UndefinedTableError:
            pass
        await asyncio.sleep(every)
    return snapshots


def delays(sent: list[tuple[float, int, int]],
           snapshots: list[tuple[float, dict[int, int]]]) -> list[float]:
    """POST→visible seconds of each event seen in the snapshots."""
    by_partition: dict[int, tuple[list[int], list[float]]] = {}
    for at, offsets in snapshots:
        for p, nxt in offsets.items():
            offs, times = by_partition.setdefault(p, ([], []))
            if not offs or nxt > offs[-1]:
                offs.append(nxt)
                times.append(at)
    out = []
    for sent_at, p, offset in sent:
        offs, times = by_partition.get(p, ([], []))
        i = bisect.bisect_right(offs, offset)  # first snapshot with next_offset > offset
        if i < len(offs):
            out.append(times[i] - sent_at)
    return out


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
