"""Live push latency: POST accepted (202) → the ``event`` change arriving on ``/v1/live``.

    .venv/bin/python bench/live_latency.py [--rate 1000 --seconds 10 --subscribers 100]

All subscribers but one are ``curl -N`` processes (they cost the machine less than the
server they load); the one timed probe measures the delay (``--python-subscribers``: every
subscriber a timed Python client, as before).

Starts its own isolated stack (tests.stack.Stack: own topic, schema, ports) unless given
``--api/--ingest`` and keys. The subscribers follow the unfiltered stream, as the dashboard
does (``--kinds event`` narrows it). The offered load goes to ``POST /v1/events:batch`` in
small batches on a fixed clock; every delivery to every subscriber is one sample. Writes
``bench/results/live_latency.json``. Talks to 127.0.0.1 only; bounded in time.
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, whose http.py would shadow the standard library.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from bench.stacks import BENCH_ENV
from tests.factories import access_denied, detention, stuffing
from tests.stack import Stack

RESULTS = ROOT / "bench" / "results" / "live_latency.json"
EVENT_CHANGE = re.compile(rb'"kind":"event",[^\n]{0,400}?"event_id":"([0-9a-f-]{36})"')
LAST_ID = re.compile(rb"(?:^|\n)id: (\d+)\n")
DRAIN_SECONDS = 20.0
CITIES = [("Almaty", "Almaty"), ("Astana", "Astana"), ("North Kazakhstan", "Petropavlovsk"),
          ("West Kazakhstan", "Oral"), ("Aktobe", "Aktobe"), ("Turkistan", "Shymkent")]
MAX_IN_FLIGHT = 64


@dataclass
class Run:
    """What the load generator and the subscribers observed, all on one monotonic clock."""

    accepted: dict[str, float] = field(default_factory=dict)
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rejected: int = 0
    failed_posts: int = 0
    resyncs: int = 0
    connected: int = 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=1000, help="offered events per second")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to offer the load")
    p.add_argument("--subscribers", type=int, default=100,
                   help="live subscribers: all but one are `curl -N` processes, one is the "
                        "timed probe (see --python-subscribers)")
    p.add_argument("--python-subscribers", action="store_true",
                   help="every subscriber a timed Python client (measures the clients too)")
    p.add_argument("--batch-ms", type=float, default=10.0, help="one batch POST every N ms")
    p.add_argument("--kinds", default="", help="filter of the subscribers, e.g. 'event'")
    p.add_argument("--api", help="api base URL (default: start a stack)")
    p.add_argument("--ingest", help="ingest base URL")
    p.add_argument("--reader-key")
    p.add_argument("--writer-key")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    for url in filter(None, (args.api, args.ingest)):
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            p.error("this benchmark only targets 127.0.0.1")
    if args.api and not (args.ingest and args.reader_key and args.writer_key):
        p.error("--api needs --ingest, --reader-key and --writer-key")
    return args


async def subscribe(client: httpx.AsyncClient, url: str, key: str, kinds: str, run: Run,
                    stop: asyncio.Event) -> None:
    """One SSE subscriber; on ``resync`` it comes back from its last cursor, as a browser does."""
    last_id: str | None = None
    first = True
    while not stop.is_set():
        headers = {"Authorization": f"Bearer {key}"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        params = {"kinds": kinds} if kinds else {}
        async with client.stream("GET", f"{url}/v1/live", params=params, headers=headers) as r:
            r.raise_for_status()
            buffer = b""
            async for chunk in r.aiter_bytes():
                now = time.monotonic()
                if first:
                    run.connected, first = run.connected + 1, False
                buffer += chunk
                complete, _, buffer = buffer.rpartition(b"\n\n")
                for event_id in EVENT_CHANGE.findall(complete):
                    run.arrivals[event_id.decode()].append(now)
                ids = LAST_ID.findall(complete)
                last_id = ids[-1].decode() if ids else last_id
                if b"event: resync" in complete:
                    run.resyncs += 1
                    break
                if stop.is_set():
                    return


async def post_batch(client: httpx.AsyncClient, key: str, events: list[dict[str, Any]],
                     run: Run, gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            reply = await client.post("/v1/events:batch", content=orjson.dumps(events),
                                      headers={"Authorization": f"Bearer {key}",
                                               "Content-Type": "application/json"})
        except httpx.HTTPError:
            run.failed_posts += len(events)
            return
    now = time.monotonic()
    if reply.status_code != 200:
        run.failed_posts += len(events)
        return
    for result in reply.json()["results"]:
        if result["code"] == 202:
            run.accepted[events[result["index"]]["event_id"]] = now
        else:
            run.rejected += 1


async def offer_load(ingest: str, key: str, rate: int, seconds: float, batch_ms: float,
                     run: Run) -> float:
    """Batches on a fixed clock (a late tick is not skipped); returns the achieved seconds."""
    rng = random.Random(1000)
    clock = datetime(2021, 1, 10, 9, 0, tzinfo=UTC)
    per_tick = max(1, round(rate * batch_ms / 1000))
    interval = per_tick / rate
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=ingest, timeout=30, limits=limits) as client:
        start = time.monotonic()
        ticks = int(seconds / interval)
        for tick in range(ticks):
            await asyncio.sleep(max(0.0, start + tick * interval - time.monotonic()))
            clock += timedelta(seconds=1)
            batch = [election_day_report(rng, clock) for _ in range(per_tick)]
            task = asyncio.create_task(post_batch(client, key, batch, run, gate))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        return time.monotonic() - start


def election_day_report(rng: random.Random, at: datetime) -> dict[str, Any]:
    """Detentions in six cities and incidents at sixty stations, as on a busy voting day."""
    region, city = rng.choice(CITIES)
    when = at.isoformat()
    roll = rng.random()
    if roll < 0.4:
        return detention(city, rng.randint(1, 6), region=region, occurred_at=when)
    station = f"PS-{rng.randint(1, 60):03d}"
    place = {"region": region, "city": city}
    report = access_denied if roll < 0.9 else stuffing
    return report(station, occurred_at=when, place=place)


def load_in_own_process(ingest: str, key: str, rate: int, seconds: float,
                        batch_ms: float) -> tuple[dict[str, float], int, int, float]:
    """The load generator apart from the subscribers, so a busy reader cannot delay a 202.

    time.monotonic() is CLOCK_MONOTONIC, one clock for every process on the machine.
    """
    run = Run()
    elapsed = asyncio.run(offer_load(ingest, key, rate, seconds, batch_ms, run))
    return run.accepted, run.rejected, run.failed_posts, elapsed


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(run: Run, args: argparse.Namespace, elapsed: float) -> dict[str, Any]:
    delays = sorted(t - run.accepted[eid] for eid, times in run.arrivals.items()
                    if eid in run.accepted for t in times)
    firsts = sorted(min(times) - run.accepted[eid] for eid, times in run.arrivals.items()
                    if eid in run.accepted and times)
    spreads = sorted(max(times) - min(times) for eid, times in run.arrivals.items()
                     if eid in run.accepted and times)
    expected = len(run.accepted) * probes(args)

    def ms(q: float, values: list[float] = delays) -> float:
        return round(percentile(values, q) * 1000, 1)

    return {
        "offered_rate": args.rate, "seconds": args.seconds, "subscribers": args.subscribers,
        "timed_probes": probes(args), "curl_subscribers": args.subscribers - probes(args),
        "batch_ms": args.batch_ms, "kinds": args.kinds or "all",
        "accepted": len(run.accepted), "accepted_rate": round(len(run.accepted) / elapsed, 1),
        "rejected": run.rejected, "failed_posts": run.failed_posts,
        "deliveries": len(delays), "expected_deliveries": expected,
        "missing_deliveries": expected - len(delays), "resyncs": run.resyncs,
        "delay_ms": {"median": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": ms(1.0)},
        "first_subscriber_delay_ms": {"median": ms(0.5, firsts), "p99": ms(0.99, firsts)},
        "fanout_spread_ms": {"median": ms(0.5, spreads), "p99": ms(0.99, spreads)},
        "cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def probes(args: argparse.Namespace) -> int:
    """Timed subscribers: one probe beside ``curl`` processes, or every one in Python."""
    return args.subscribers if args.python_subscribers else min(1, args.subscribers)


async def curl_subscribers(n: int, api: str, key: str, kinds: str) -> list[Any]:
    """``n`` untimed ``curl -N`` followers of /v1/live: load that costs less than the server."""
    url = f"{api}/v1/live" + (f"?kinds={kinds}" if kinds else "")
    return [await asyncio.create_subprocess_exec(
        "curl", "-N", "-s", "-o", "/dev/null", "-H", f"Authorization: Bearer {key}", url,
        stdin=asyncio.subprocess.DEVNULL) for _ in range(n)]


async def measure(args: argparse.Namespace, api: str, ingest: str, reader: str,
                  writer: str) -> dict[str, Any]:
    run, stop = Run(), asyncio.Event()
    limits = httpx.Limits(max_connections=args.subscribers + 5)
    timeout = httpx.Timeout(10.0, read=60.0)
    curls = await curl_subscribers(args.subscribers - probes(args), api, reader, args.kinds)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        subscribers = [asyncio.create_task(subscribe(client, api, reader, args.kinds, run, stop))
                       for _ in range(probes(args))]
        while run.connected < len(subscribers):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0 if curls else 0.0)  # let the curl followers connect
        alive = sum(c.returncode is None for c in curls)
        print(f"{run.connected} timed + {alive} curl subscribers connected; offering "
              f"{args.rate}/s for {args.seconds:g}s", flush=True)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            run.accepted, run.rejected, run.failed_posts, elapsed = (
                await asyncio.get_running_loop().run_in_executor(
                    pool, load_in_own_process, ingest, writer, args.rate, args.seconds,
                    args.batch_ms))
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and sum(
                len(run.arrivals.get(e, ())) for e in run.accepted) < len(run.accepted) * len(
                subscribers):
            await asyncio.sleep(0.2)
        stop.set()
        for task in subscribers:
            task.cancel()
        await asyncio.gather(*subscribers, return_exceptions=True)
    for proc in curls:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
    return summarise(run, args, elapsed)


def main() -> int:
    args = parse_args()
    stack = None
    if args.api:
        api, ingest, reader, writer = args.api, args.ingest, args.reader_key, args.writer_key
    else:
        print("starting an isolated stack (ingest + projector + api)…", flush=True)
        stack = Stack(extra_env=BENCH_ENV).start()
        api, ingest, reader, writer = (stack.api_url, stack.ingest_url, stack.reader_key,
                                       stack.writer_key)
    try:
        result = asyncio.run(measure(args, api, ingest, reader, writer))
    finally:
        if stack is not None:
            stack.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    d = result["delay_ms"]
    print(f"accepted {result['accepted']:,} events ({result['accepted_rate']:,}/s offered "
          f"{args.rate:,}/s); {result['deliveries']:,} of {result['expected_deliveries']:,} "
          f"deliveries to {probes(args)} timed of {args.subscribers} subscribers; "
          f"resyncs {result['resyncs']}")
    print(f"POST accepted → change on /v1/live: median {d['median']} ms, p90 {d['p90']} ms, "
          f"p99 {d['p99']} ms, max {d['max']} ms")
    f, spread = result["first_subscriber_delay_ms"], result["fanout_spread_ms"]
    print(f"  first subscriber: median {f['median']} ms, p99 {f['p99']} ms; first→last "
          f"subscriber spread: median {spread['median']} ms, p99 {spread['p99']} ms")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
