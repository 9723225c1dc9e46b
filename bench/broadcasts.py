"""Messages to observers: what one broadcast to the whole country costs.

Starts a private stack (127.0.0.1 only), registers ``--observers`` stations across the
election's regions with one observer accredited to each, then sends ``--messages``
broadcasts to the whole country through ``POST /v1/broadcasts`` (ingest looks up every
observer it reaches and names them in the event) and one to a region; prints each send's
latency, how long until the last observer's ``GET /v1/observer/me`` holds the message
(projection included), and that read's latency with every message in it.

    export KAFKA_BOOTSTRAP=… DATABASE_URL=…; .venv/bin/python -m bench.broadcasts
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import httpx

from bench.observer_signin import give_pins
from bench.stacks import BENCH_ENV
from tests.factories import envelope
from tests.stack import Stack

ELECTION = "kz-2023-03-19"
REGIONS = ["Almaty", "Astana", "Karaganda", "Pavlodar", "Turkistan"]


def register_and_accredit(stack: Stack, count: int) -> list[str]:
    ids = [f"BC-{n}" for n in range(count)]
    items = [e for n, i in enumerate(ids) for e in (
        envelope("station.registered", {"number": n + 1, "region": REGIONS[n % len(REGIONS)],
                                        "address": "School", "registered_voters": 1000},
                 station_id=f"PS-{n}"),
        envelope("observer.accredited", {"observer_id": i, "organisation": "bench",
                                         "name": "Observer", "station_id": f"PS-{n}"},
                 election_id=ELECTION))]
    for start in range(0, len(items), 1000):
        assert stack.post_batch(items[start:start + 1000]).json()["accepted"] == len(
            items[start:start + 1000])
    return ids


def send(stack: Stack, body: dict[str, object]) -> tuple[float, str]:
    started = time.perf_counter()
    reply = httpx.post(f"{stack.ingest_url}/v1/broadcasts", json=body, timeout=60,
                       headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert reply.status_code == 202, reply.text
    return time.perf_counter() - started, reply.json()["event_id"]


def token_of(stack: Stack, observer: str, pin: str) -> str:
    reply = httpx.post(f"{stack.ingest_url}/v1/observer/session", timeout=30,
                       json={"observer_id": observer, "pin": pin})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["token"])


def me(stack: Stack, token: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    reply = httpx.get(f"{stack.ingest_url}/v1/observer/me", timeout=30,
                      headers={"Authorization": f"Bearer {token}"})
    return time.perf_counter() - started, [m["id"] for m in reply.json()["messages"]]


def ms(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(seconds), 1),
            "max_ms": round(1000 * max(seconds), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observers", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    stack = Stack(extra_env=BENCH_ENV).start()
    try:
        ids = register_and_accredit(stack, args.observers)
        asyncio.run(give_pins(stack, ids, "12345678"))
        last = token_of(stack, ids[-1], "12345678")
        sends = [send(stack, {"text": {"en": f"message {n}"}}) for n in range(args.messages)]
        started = time.perf_counter()
        while sends[-1][1] not in me(stack, last)[1]:
            time.sleep(0.05)
        visible = time.perf_counter() - started
        regional = [send(stack, {"text": {"en": "regional"}, "regions": [REGIONS[0]]})[0]
                    for _ in range(5)]
        reads = [me(stack, last)[0] for _ in range(20)]
        print(json.dumps({"observers": args.observers,
                          "national_send": ms([s for s, _ in sends]),
                          "regional_send": ms(regional),
                          "last_sent_visible_in_me_after_ms": round(1000 * visible, 1),
                          "me_with_messages": {"messages": args.messages, **ms(reads)}},
                         indent=1))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
