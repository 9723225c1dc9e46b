"""What the stack-starting benchmarks share: their settings, memory figures and clean-up."""
from __future__ import annotations

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from saylau.settings import Settings
from tests.stack import Stack

BENCH_ENV = {"RATE_LIMIT_PER_SECOND": "0"}  # measure the pipeline, not the partner limit


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_of(stack: Stack, prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{service}-{i}": peak_rss_mib(p.pid)
            for service, procs in stack.procs.items() for i, p in enumerate(procs)
            if p.poll() is None}


async def drop(conn: asyncpg.Connection, settings: Settings, schema: str,
               topics: list[str]) -> None:
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([t for t in topics if t in set(await admin.list_topics())])
    finally:
        await admin.close()
