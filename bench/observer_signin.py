"""Observers signing in at poll opening: sign-ins/s of ONE ingest process on this machine.

Starts a private stack (ingest + projector, 127.0.0.1 only), accredits ``--observers``
observers of one election, gives them a PIN (one argon2id hash written straight to the PIN
table: issuing is not what is measured), then signs every one of them in through
``POST /v1/observer/session`` with ``--concurrency`` requests at once, each from an address
of its own (X-Forwarded-For, which ingest trusts from 127.0.0.1 as uvicorn does), so the
per-address limit stays as configured. Prints the rate, p50/p99, the ingest's CPU seconds
per sign-in and the rate that CPU bound allows on this machine's cores; exit 1 when any
sign-in was not a 201.

The target: 10,000 observers within 10 minutes is 16.7 sign-ins a second.

    export KAFKA_BOOTSTRAP=… DATABASE_URL=…; .venv/bin/python -m bench.observer_signin
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import asyncpg
import httpx

from bench.stacks import BENCH_ENV
from saylau.settings import Settings
from saylau.web.observers import ARGON2, new_pin, pin_hasher, store_pins
from tests.factories import envelope
from tests.stack import Stack

ELECTION = "kz-2023-03-19"
TARGET = 10_000 / 600
MAX_OBSERVERS, MAX_CONCURRENCY = 20_000, 256


def say(message: str) -> None:
    print(f"[bench signin {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accredit(stack: Stack, ids: list[str]) -> None:
    items = [envelope("observer.accredited", {"observer_id": i, "organisation": "bench",
                                              "name": "Observer", "station_id": f"PS-{n}"},
                      election_id=ELECTION) for n, i in enumerate(ids)]
    for start in range(0, len(items), 1000):
        reply = stack.post_batch(items[start:start + 1000])
        assert reply.status_code == 200 and reply.json()["accepted"] == len(
            items[start:start + 1000]), reply.text[:300]


async def give_pins(stack: Stack, ids: list[str], pin: str) -> None:
    conn = await asyncpg.connect(Settings().dsn)
    try:
        deadline = time.monotonic() + 300
        while await conn.fetchval(f'SELECT count(*) FROM "{stack.name}".observers '
                                  "WHERE accredited") < len(ids):
            if time.monotonic() > deadline:
                raise TimeoutError("the accreditations were not projected in 300 s")
            await asyncio.sleep(0.5)
        stored = pin_hasher().hash(pin)
        await store_pins(conn, f"{stack.name}_ingest", [(i, stored) for i in ids])
    finally:
        await conn.close()


async def sign_in_all(url: str, ids: list[str], pin: str,
                      concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    """Wall seconds, each sign-in's latency, the count of each status."""
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n, i in enumerate(ids):
        queue.put_nowait((n, i))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            n, observer = queue.get_nowait()
            address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"  # her phone's own
            started = time.perf_counter()
            reply = await http.post("/v1/observer/session", headers={"X-Forwarded-For": address},
                                    json={"observer_id": observer, "pin": pin})
            latencies.append(time.perf_counter() - started)
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(observers: int, concurrency: int) -> dict[str, Any]:
    stack = Stack(extra_env=BENCH_ENV)
    try:
        say("starting ingest and projector")
        stack.start_ingest()
        stack.start_projector()
        ids, pin = [f"BN-{n:05d}" for n in range(observers)], new_pin()
        say(f"accrediting {observers:,} observers")
        accredit(stack, ids)
        await give_pins(stack, ids, pin)
        ingest = stack.procs["ingest"][0].pid
        load, cpu = os.getloadavg()[0], cpu_seconds(ingest)
        say(f"signing {observers:,} in, {concurrency} at once")
        wall, latencies, statuses = await sign_in_all(stack.ingest_url, ids, pin, concurrency)
        cpu = cpu_seconds(ingest) - cpu
    finally:
        stack.stop()
    cores = os.cpu_count() or 1
    return {"observers": observers, "concurrency": concurrency, "argon2id": ARGON2,
            "statuses": statuses, "seconds": round(wall, 2),
            "signins_per_second": round(observers / wall, 1),
            "p50_ms": round(quantile(latencies, 0.5) * 1000),
            "p99_ms": round(quantile(latencies, 0.99) * 1000),
            "ingest_cpu_ms_per_signin": round(cpu / observers * 1000, 1),
            "cpu_bound_per_second": round(cores / (cpu / observers), 1), "cores": cores,
            "load_average_before": round(load, 2), "target_per_second": round(TARGET, 1)}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--observers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if not (1 <= args.observers <= MAX_OBSERVERS and 1 <= args.concurrency <= MAX_CONCURRENCY):
        parser.error(f"--observers 1..{MAX_OBSERVERS}, --concurrency 1..{MAX_CONCURRENCY}")
    return args


if __name__ == "__main__":
    args = arguments()
    figures = asyncio.run(main(args.observers, args.concurrency))
    print(json.dumps(figures))
    rate = figures["signins_per_second"]
    print(f"{rate} sign-ins/s (p99 {figures['p99_ms']} ms); "
          f"{figures['ingest_cpu_ms_per_signin']} ms of ingest CPU each, so at most "
          f"{figures['cpu_bound_per_second']}/s on {figures['cores']} cores; "
          f"10,000 in 10 minutes needs {figures['target_per_second']}/s: "
          f"{'holds' if rate >= TARGET else 'does NOT hold'}")
    sys.exit(0 if figures["statuses"] == {201: args.observers} else 1)
