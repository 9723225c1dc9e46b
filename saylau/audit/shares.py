"""A replay spread over processes: each applies a share of the partitions.

One Python process applies about 12,000 events/s and is then at a full core, while
PostgreSQL has cores to spare; the projection's Python is the limit. Partitions are
independent in the log, so ``saylau replay --processes N`` gives process ``i`` the partitions
``p`` with ``p % N == i`` (each with its own ``--jobs`` connections), all reading up to the
same log position, taken once by the parent. For PostgreSQL this is what ``--jobs`` already
is (several connections applying different partitions, as several live workers do): the
same transactions, the same retry after a deadlock, the same stored offsets per partition.
The parent builds the deferred indexes and records the position once every share is done.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from saylau.audit.logsource import KafkaLog
from saylau.audit.replay import (
    ReplayStats,
    bulk_session,
    record_position,
    replay,
    replay_projection,
)
from saylau.collector import quiet_collector
from saylau.settings import settings

T, R = TypeVar("T"), TypeVar("R")
AUTO_MIN_RECORDS = 50_000
"""``--processes auto`` spreads a replay only from this many records (a process takes about a
second to start, about what one process replays of a smaller log in that time)."""


@dataclass(frozen=True)
class Share:
    """What one process replays: ``partitions`` of ``topic``, from ``start`` to ``stop``."""

    topic: str
    schema: str
    partitions: tuple[int, ...]
    start: dict[int, int]
    stop: dict[int, int]
    batch: int
    jobs: int
    until: datetime | None
    order: str
    seed: int | None


def processes_for(requested: str, records: int, partitions: int, cpus: int | None) -> int:
    """How many processes a replay of ``records`` over ``partitions`` uses: ``requested`` as a
    number, or ``auto``: one per CPU (at most one per partition) from ``AUTO_MIN_RECORDS``."""
    if requested != "auto":
        wanted = int(requested)
        if wanted < 1:
            raise ValueError("--processes must be at least 1 (or auto)")
        return max(1, min(wanted, partitions))
    if records < AUTO_MIN_RECORDS:
        return 1
    return max(1, min(cpus or 1, partitions))


def split(log: KafkaLog, schema: str, processes: int, batch: int, jobs: int,
          until: datetime | None, order: str, seed: int | None) -> list[Share]:
    """The shares of ``log`` (opened, so its extents are the position to reach)."""
    start = {p: e.low for p, e in log.extents.items()}
    stop = {p: e.high for p, e in log.extents.items()}
    shares = []
    for i in range(processes):
        mine = tuple(p for p in sorted(log.extents) if p % processes == i)
        shares.append(Share(log.topic, schema, mine, {p: start[p] for p in mine},
                            {p: stop[p] if p in mine else 0 for p in stop}, batch, jobs,
                            until, order, seed))
    return shares


PROGRESS_EVERY = 0.5
"""Seconds between two reports of the records the processes have read."""
_read: Any = None
"""In a share's process: the counter of records read that every share adds to."""


async def replay_shares(shares: list[Share], position: dict[int, int],
                        on_progress: Callable[[int], None] = lambda n: None) -> ReplayStats:
    """Every share in its own process (spawned: nothing of this process is inherited); the
    merged statistics, the position recorded in the schema. ``on_progress`` hears of the
    records the processes read, together, about twice a second."""
    started = time.perf_counter()
    done = await in_processes(run_share, shares, on_progress)
    stats = ReplayStats(shares[0].schema, position=position)
    for part in done:
        for name in ("read", "applied", "duplicates", "dead", "after_until"):
            setattr(stats, name, getattr(stats, name) + part[name])
    cfg = settings()
    conn = await asyncpg.connect(cfg.dsn)
    try:
        await record_position(conn, stats.schema, shares[0].topic, position, shares[0].until,
                              cfg.kafka_bootstrap)
    finally:
        await conn.close()
    stats.seconds = time.perf_counter() - started
    return stats


async def in_processes(run: Callable[[T], R], items: list[T],
                       on_progress: Callable[[int], None]) -> list[R]:
    """``run(item)`` for every item, each in a spawned process, in order; what the processes
    count with ``count_read`` reaches ``on_progress`` while they run."""
    context = multiprocessing.get_context("spawn")
    read = context.Value("q", 0)
    loop, told = asyncio.get_running_loop(), 0
    with ProcessPoolExecutor(len(items), mp_context=context, initializer=_share_counter,
                             initargs=(read,)) as pool:
        work = asyncio.gather(*(loop.run_in_executor(pool, run, item) for item in items))
        while True:
            finished, _ = await asyncio.wait([work], timeout=PROGRESS_EVERY)
            now = read.value
            if now > told:
                on_progress(now - told)
                told = now
            if finished:
                return await work


def _share_counter(read: Any) -> None:
    global _read
    _read = read


def count_read(n: int) -> None:
    """In a share's process: ``n`` more records read (for the parent's progress)."""
    if _read is not None:
        with _read.get_lock():
            _read.value += n


def run_share(share: Share) -> dict[str, int]:
    """Entry point of a share's process: its replay's counts."""
    quiet_collector()  # as run_replay: millions of short-lived objects
    stats = asyncio.run(_replay_share(share))
    return {k: v for k, v in asdict(stats).items() if isinstance(v, int)}


async def _replay_share(share: Share) -> ReplayStats:
    cfg = settings()
    conns = [await asyncpg.connect(cfg.dsn, command_timeout=None) for _ in range(share.jobs)]
    try:
        for c in conns:
            await bulk_session(c)
        async with KafkaLog(cfg.kafka_bootstrap, share.topic, share.order, share.seed,
                            start=share.start, stop=share.stop) as log:
            return await replay(conns[0], log, replay_projection(share.schema, log.topic, cfg),
                                share.batch, share.until, on_progress=count_read,
                                more=conns[1:])
    finally:
        for c in conns:
            await c.close()
