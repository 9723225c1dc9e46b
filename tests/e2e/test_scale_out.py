"""Two projector workers share the partitions; a rebalance never loses or doubles a count.

A second worker joins mid-stream, then the first is SIGKILLed mid-stream: offsets live in
PostgreSQL in each batch's transaction, so whatever either worker had half done is redone
exactly once by whoever owns the partition next.
"""
from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from saylau.settings import Settings
from tests.factories import access_denied, detention, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
ROUNDS = 30


def group_members(stack: Stack) -> int:
    async def members() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=Settings().kafka_bootstrap)
        await admin.start()
        try:
            [reply] = await admin.describe_consumer_groups([f"{stack.name}-projector"])
            return len(reply.groups[0][5])
        finally:
            await admin.close()
    return asyncio.run(members())


def read_models(stack: Stack) -> tuple[int, dict[str, int]]:
    """(events applied, station totals) straight from the stack's schema."""
    async def fetch() -> tuple[int, dict[str, int]]:
        conn = await asyncpg.connect(Settings().dsn)
        try:
            applied = await conn.fetchval(f'SELECT count(*) FROM "{stack.name}".events')
            rows = await conn.fetch(f'SELECT station_id, total FROM "{stack.name}".stations')
            return applied, {r["station_id"]: r["total"] for r in rows}
        finally:
            await conn.close()
    return asyncio.run(fetch())


def post_round(stack: Stack, stations: list[str], cities: list[str], accepted: Counter[str],
               detained: Counter[str]) -> None:
    batch: list[dict[str, Any]] = [access_denied(s) for s in stations]
    batch += [detention(c, 2 + i) for i, c in enumerate(cities)]
    reply = stack.post_batch(batch)
    assert reply.status_code == 200, reply.text
    for item, result in zip(batch, reply.json()["results"]):
        if result["code"] != 202:
            continue
        accepted["events"] += 1
        if "station_id" in item:
            accepted[item["station_id"]] += 1
        else:
            detained[item["place"]["city"]] += item["payload"]["count"]


def test_two_workers_share_partitions_and_counts_stay_exact(own_stack: Stack) -> None:
    stack = own_stack
    stack.start_ingest()
    first = stack.start_projector()
    stack.start_api()
    stations = [unique("PS") for _ in range(24)]
    cities = [unique() for _ in range(6)]
    accepted: Counter[str] = Counter()
    detained: Counter[str] = Counter()
    for n in range(ROUNDS):
        post_round(stack, stations, cities, accepted, detained)
        if n == ROUNDS // 3:
            stack.start_projector()
            wait_until(lambda: group_members(stack) == 2, timeout=60, interval=0.5)
        if n == 2 * ROUNDS // 3:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
    wait_until(lambda: read_models(stack)[0] == accepted["events"], timeout=90, interval=0.5)
    applied, totals = read_models(stack)
    assert applied == accepted["events"]
    assert totals == {s: accepted[s] for s in stations}
    shown = {c["city"]: c["detained_total"]
             for c in stack.get("/v1/detentions").json()["cities"] if c["city"] in detained}
    assert shown == dict(detained)
