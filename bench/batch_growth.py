"""Does a projector batch cost more as the log grows? Per-statement SQL time of the same small
batches on a fresh read schema and again after N events were applied.

The live projector's batches are small when it keeps up (tens of events at a time), so a
statement whose cost grows with the tables (an aggregate over every open breach, a scan of
a growing index) shows first as POST→visible delay and then as a lower drain rate. This
applies ingest-built records with ``Projection.apply`` on one connection (no Kafka), times
10 batches of 10 and 5 of 200 events through asyncpg's query logger, loads N more events in
batches of 5,000, ANALYZEs, and times the same shape of batches again.

    . infra/env.sh && .venv/bin/python -m bench.batch_growth [--events 100000]

Prints the wall time and the statements that took longest, and writes
``bench/results/batch_growth.json`` (``--out`` another file). Talks to the configured PostgreSQL only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench import events
from saylau.log.decode import Message
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection, build_projection
from saylau.settings import Settings
from saylau.store.db import migrate

RESULTS = Path(__file__).resolve().parent / "results" / "batch_growth.json"
SHAPE = [10] * 10 + [200] * 5
"""The timed batches: what a projector that keeps up applies (1,100 events)."""


async def timed(conn: asyncpg.Connection, projection: Projection,
                messages: list[Message]) -> dict[str, Any]:
    """Apply SHAPE's batches from ``messages`` (consumed); wall and SQL time by statement."""
    queries: list[tuple[str, float]] = []

    def log(record: Any) -> None:
        queries.append((" ".join(record.query.split()[:5]), record.elapsed))
    conn.add_query_logger(log)
    by_statement: Counter[str] = Counter()
    wall = 0.0
    try:
        for size in SHAPE:
            batch = messages[:size]
            del messages[:size]
            started = time.perf_counter()
            async with conn.transaction():
                await projection.apply(conn, batch)
            wall += time.perf_counter() - started
            for statement, seconds in queries:
                by_statement[statement] += seconds
            queries.clear()
    finally:
        conn.remove_query_logger(log)
    return {"wall_ms": round(1000 * wall, 1),
            "sql_ms": round(1000 * sum(by_statement.values()), 1),
            "slowest_statements_ms": {s: round(1000 * t, 1)
                                      for s, t in by_statement.most_common(8)}}


async def run(n: int) -> dict[str, Any]:
    cfg, schema = Settings(), "bench_growth_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(cfg.dsn)
    try:
        await migrate(conn, schema)
        projection = build_projection(cfg, schema, f"{schema}.events", ChangeFeed(notify=True))
        offsets: Counter[int] = Counter()
        messages = []
        for partition, _key, value in events.log_records(events.events(n + 2 * sum(SHAPE) + 10, 5), 6):
            messages.append(Message(partition, offsets[partition], value))
            offsets[partition] += 1
        async with conn.transaction():  # warm up: asyncpg's type introspection, plans
            await projection.apply(conn, messages[:10])
        del messages[:10]
        fresh = await timed(conn, projection, messages)
        started = time.perf_counter()
        for _ in range(0, n, 5000):
            async with conn.transaction():
                await projection.apply(conn, messages[:5000])
            del messages[:5000]
        loaded = time.perf_counter() - started
        await conn.execute("ANALYZE")
        grown = await timed(conn, projection, messages)
        breaches = await conn.fetchval(f'SELECT count(*) FROM "{schema}".breaches')
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "events": n,
            "load_average_before": os.getloadavg(), "timed_batches": SHAPE,
            "fresh": fresh, f"after_{n}": grown, "breaches_after": breaches,
            "load_events_per_second": round(n / loaded)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    out = asyncio.run(run(args.events))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
