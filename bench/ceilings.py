"""The raw limits: aiokafka produce / consume and asyncpg COPY / unnest upsert, same bytes.

Each ceiling moves exactly what the pipeline moves (the records ingest appends, the rows the
projector writes), with no validation, no HTTP and no projection logic in between.
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from saylau.log.kafka import make_producer
from saylau.settings import Settings
from saylau.store.db import migrate

BATCH = 1000


async def create_topic(settings: Settings, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    await asyncio.sleep(2.0)  # let every partition elect its leader before timing writes


async def produce(settings: Settings, topic: str,
                  records: list[tuple[int, bytes, bytes]]) -> float:
    """Events/s appended with ingest's producer settings (acks=all, idempotent)."""
    producer = make_producer(settings)
    await producer.start()
    try:
        started = time.perf_counter()
        for i in range(0, len(records), BATCH):
            futures = [await producer.send(topic, value, key=key, partition=p)
                       for p, key, value in records[i:i + BATCH]]
            for future in futures:
                await future
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(settings: Settings, topic: str, expected: int) -> float:
    """Events/s read back from the start of ``topic``, as a projector worker fetches."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(b) for b in batches.values())
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def event_rows(records: list[tuple[int, bytes, bytes]]) -> list[tuple[Any, ...]]:
    """The ``events`` read-model rows of ``records`` (what sql.insert_events copies)."""
    from datetime import datetime
    from uuid import UUID

    rows = []
    for offset, (partition, _, value) in enumerate(records):
        r = orjson.loads(value)
        place = r.get("place") or {}
        rows.append((UUID(r["event_id"]), r["type"], r["schema_version"],
                     datetime.fromisoformat(r["occurred_at"]),
                     datetime.fromisoformat(r["received_at"]), r["partner"],
                     r.get("station_id"), place.get("region"), place.get("city"),
                     r.get("election_id"), "unverified", partition, offset, value.decode()))
    return rows


COLUMNS = ("event_id", "type", "schema_version", "occurred_at", "received_at", "partner",
           "station_id", "region", "city", "election_id", "status", "kafka_partition",
           "kafka_offset", "record")


async def pg_copy(conn: asyncpg.Connection, schema: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of COPY into the events table, one transaction per batch of 1,000."""
    await migrate(conn, schema)
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        async with conn.transaction():
            await conn.copy_records_to_table("events", schema_name=schema,
                                             records=rows[i:i + BATCH], columns=COLUMNS)
    return len(rows) / (time.perf_counter() - started)


async def pg_upsert(conn: asyncpg.Connection, schema: str, rows: list[tuple[Any, ...]]) -> float:
    """Events/s of the per-batch station and incident upserts (unnest), aggregated deltas."""
    await migrate(conn, schema)
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        stations: dict[str, list[Any]] = {}
        incidents: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows[i:i + BATCH]:
            if row[6]:
                s = stations.setdefault(row[6], [row[7], row[8], 0, row[3]])
                s[2] += 1
                s[3] = max(s[3], row[3])
                incidents[(row[6], row[1])] += 1
        async with conn.transaction():
            await conn.execute(
                f'INSERT INTO "{schema}".stations AS s (station_id, region, city, total, '
                "last_event_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
                "$4::int[], $5::timestamptz[]) ON CONFLICT (station_id) DO UPDATE SET "
                "total = s.total + EXCLUDED.total, "
                "last_event_at = GREATEST(s.last_event_at, EXCLUDED.last_event_at)",
                list(stations), *[list(c) for c in zip(*stations.values())])
            await conn.execute(
                f'INSERT INTO "{schema}".station_incidents AS i (station_id, type, reports) '
                "SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) ON CONFLICT "
                "(station_id, type) DO UPDATE SET reports = i.reports + EXCLUDED.reports",
                [k[0] for k in incidents], [k[1] for k in incidents], list(incidents.values()))
    return len(rows) / (time.perf_counter() - started)


def combined(*rates: float) -> float:
    """The rate of doing each step once per event, one after the other."""
    return 1 / sum(1 / r for r in rates)
