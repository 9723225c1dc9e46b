"""Profile the projection (``python -m bench.profile [events] [batch]``): where a batch goes.

Applies ingest-built records straight to a fresh schema with ``Projection.apply`` under
cProfile, without Kafka, then prints the top functions by cumulative and own time.
"""
from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
import uuid

import asyncpg

from bench import events
from saylau.catalogue import catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.log.decode import Message
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings
from saylau.store.db import migrate


async def run(n: int, batch: int) -> None:
    records = events.log_records(events.events(n, 11), 6)
    messages = [Message(p, i, v) for i, (p, _, v) in enumerate(records)]
    schema = "prof_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(Settings().dsn)
    projection = Projection(schema, f"{schema}.events", catalogue(), Calendars.load(),
                            RuleConfig(), ChangeFeed(notify=True))
    try:
        await migrate(conn, schema)
        profiler, started = cProfile.Profile(), time.perf_counter()
        profiler.enable()
        for i in range(0, n, batch):
            await projection.apply(conn, messages[i:i + batch])
        profiler.disable()
        print(f"{n / (time.perf_counter() - started):,.0f} events/s under the profiler")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
                    int(sys.argv[2]) if len(sys.argv) > 2 else 1000))
