"""Replay rate: the projection applied to a whole topic, from offset 0, into a fresh schema.

Uses ``saylau replay`` when the audit package provides it, else the same path it runs:
read the topic with aiokafka and call ``Projection.apply`` (the live projector's code) per
batch, without the live change feed.
"""
from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from saylau.catalogue import catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.log.decode import Message
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings
from saylau.store.db import migrate

BATCH = 5000
CAP_SECONDS = 20.0


async def rate(settings: Settings, topic: str, schema: str, expected: int) -> dict[str, Any]:
    """Events/s of rebuilding ``schema`` from ``topic``: the audit tool's if there is one."""
    if importlib.util.find_spec("saylau.cli.audit") is not None:
        return await audit_tool(topic, schema)
    return await direct(settings, topic, schema, expected)


async def audit_tool(topic: str, schema: str) -> dict[str, Any]:
    """Run ``saylau replay`` and read the rate it reports."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from saylau.cli import main; sys.exit(main())", "replay", "--topic", topic, "--schema", schema,
        "--batch", str(BATCH), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    found = re.search(r"replayed ([\d,]+) records .* in ([\d.]+) s: ([\d,]+) events/s",
                      out.decode())
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"saylau replay failed ({proc.returncode}): {err.decode()[-500:]}")
    events, seconds, per_second = found.groups()
    return {"tool": "saylau replay", "events": int(events.replace(",", "")),
            "seconds": float(seconds), "rate": float(per_second.replace(",", ""))}


async def direct(settings: Settings, topic: str, schema: str, expected: int) -> dict[str, Any]:
    """Events/s of projecting ``topic`` into ``schema`` (stops after ``CAP_SECONDS``)."""
    conn = await asyncpg.connect(settings.dsn)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None, max_partition_fetch_bytes=4 * 1024 * 1024)
    projection = Projection(schema, topic, catalogue(), Calendars.load(), RuleConfig(), None)
    try:
        await migrate(conn, schema)
        await consumer.start()
        applied, started = 0, time.perf_counter()
        while applied < expected and time.perf_counter() - started < CAP_SECONDS:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            batch = [Message(m.partition, m.offset, m.value)
                     for msgs in fetched.values() for m in msgs]
            if batch:
                applied += (await projection.apply(conn, batch)).applied
        elapsed = time.perf_counter() - started
        return {"tool": "Projection.apply over the topic", "events": applied,
                "seconds": elapsed, "rate": applied / elapsed}
    finally:
        await consumer.stop()
        await conn.close()
