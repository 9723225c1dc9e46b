"""Ingest load for the read benchmark: RATE events/s as batches of 100, until terminated.

    python -m bench.read_feed <ingest url> <writer key> <rate>
"""
from __future__ import annotations

import asyncio
import random
import sys
import time

import httpx

from bench.events import event
from bench.replay_rate import valid

BATCH = 100


async def feed(url: str, key: str, rate: int) -> None:
    rng = random.Random(time.time_ns())
    interval, due = BATCH / rate, time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        while True:
            batch = valid([event(rng) for _ in range(BATCH)])
            await client.post("/v1/events:batch", json=batch)
            due += interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))


if __name__ == "__main__":
    asyncio.run(feed(sys.argv[1], sys.argv[2], int(sys.argv[3])))
