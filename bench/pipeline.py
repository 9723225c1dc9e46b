"""``make bench``: the pipeline against the raw Kafka and PostgreSQL ceilings, in one run.

Sizes and phase lengths come from the environment (defaults keep each phase under ~20 s on
a 2-core machine): BENCH_EVENTS (ceiling / replay / drain records), BENCH_SECONDS (each
load phase), BENCH_RATE (offered load of the latency phase), BENCH_PARTITIONS, BENCH_REPLAY_EVENTS,
BENCH_SWEEP_RATES / BENCH_SWEEP_SECONDS (the offered-load sweep: achieved rate and POST→visible
delay against offered load, plotted in ``latest_load.svg``), BENCH_PER_POST (events a request
in the latency phases; 1 = single POSTs).
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import uvloop

from bench import ceilings, events, phases, projector_rate, replay, report
from bench.stacks import BENCH_ENV, drop, rss_of
from saylau.settings import Settings
from tests.stack import Stack

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "12"))
RATE = int(os.environ.get("BENCH_RATE", "2000"))
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "6"))
REPLAY_EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "40000"))
DRAIN_CAP = 25.0
SWEEP = [int(r) for r in os.environ.get("BENCH_SWEEP_RATES", "500,1000,2000,3000").split(",")]
"""Offered loads of the sweep (achieved rate and POST→visible delay against offered load)."""
SWEEP_SECONDS = float(os.environ.get("BENCH_SWEEP_SECONDS", "8"))
PER_POST = int(os.environ.get("BENCH_PER_POST", "1"))
"""Events per request of the latency phases: 1, single POSTs (as partners mostly send)."""


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def measure_ceilings(settings: Settings, run: str,
                           records: list[tuple[int, bytes, bytes]]) -> dict[str, float]:
    topic = f"{run}.ceiling"
    await ceilings.create_topic(settings, topic, PARTITIONS)
    say(f"ceiling: produce {len(records):,} records to {topic}")
    produce = await ceilings.produce(settings, topic, records)
    consume = await ceilings.consume(settings, topic, len(records))
    rows = ceilings.event_rows(records)
    conn = await asyncpg.connect(settings.dsn)
    try:
        say("ceiling: PostgreSQL COPY and unnest upsert")
        copy = await ceilings.pg_copy(conn, f"{run}_copy", rows)
        upsert = await ceilings.pg_upsert(conn, f"{run}_upsert", rows)
    finally:
        await conn.close()
    return {"kafka_produce": produce, "kafka_consume": consume, "pg_copy": copy,
            "pg_upsert": upsert, "pg_write": ceilings.combined(copy, upsert),
            "kafka": min(produce, consume)}


async def replay_phase(settings: Settings, run: str,
                       records: list[tuple[int, bytes, bytes]]) -> dict[str, Any]:
    topic = f"{run}.replay"
    await ceilings.create_topic(settings, topic, PARTITIONS)
    await ceilings.produce(settings, topic, records)
    say(f"replay: {len(records):,} events into a fresh schema")
    return await replay.rate(settings, topic, f"replay_{run}", len(records))


def bodies(n: int, seed: int, size: int) -> list[bytes]:
    """Request bodies: JSON arrays of ``size`` events, or single events when ``size`` is 1."""
    items = events.events(n, seed)
    if size == 1:
        return [orjson.dumps(item) for item in items]
    return [orjson.dumps(items[i:i + size]) for i in range(0, n, size)]


async def http_phases(conn: asyncpg.Connection, stack: Stack) -> dict[str, Any]:
    topic, out = f"{stack.name}.events", {}
    for name, seconds, load in (
            ("batch", SECONDS, lambda b: phases.post_batches(stack, b, SECONDS, clients=4)),
            ("single", SECONDS, lambda b: phases.post_singles(stack, b, SECONDS, clients=32))):
        size = 1000 if name == "batch" else 1
        body_list = bodies(int(40_000 * seconds) if name == "batch" else int(6000 * seconds),
                           hash(name) & 0xFFFF, size)
        before = sum((await phases.visible(conn, topic)).values())
        say(f"pipeline: {name} POSTs for {seconds:.0f} s")
        sent = await load(body_list)
        seen, done, _ = await phases.wait_visible(conn, topic, before + sent.accepted, DRAIN_CAP)
        out[name] = {"accepted": sent.accepted, "not_accepted": sent.other,
                     "ingest_rate": sent.accepted / (sent.finished - sent.started),
                     "end_to_end_rate": (seen - before) / (done - sent.started),
                     "all_visible": seen - before >= sent.accepted}
    out["latency"] = await latency_phase(conn, stack, RATE, SECONDS, seed=7)
    out["sweep"] = []
    for rate in SWEEP:  # a load the stack cannot take is a figure too, not the end of the run
        try:
            out["sweep"].append(await latency_phase(conn, stack, rate, SWEEP_SECONDS,
                                                    seed=1000 + rate))
        except (OSError, RuntimeError) as exc:
            say(f"pipeline: {rate:,}/s offered failed: {exc!r}")
            out["sweep"].append({"offered": rate, "per_post": PER_POST, "achieved": 0.0,
                                 "events": 0, "median_s": None, "p99_s": None,
                                 "max_s": None, "client_cpu_share": 0.0, "error": repr(exc)})
    return out


async def latency_phase(conn: asyncpg.Connection, stack: Stack, rate: int,
                        seconds: float, seed: int) -> dict[str, Any]:
    """POST→visible delays at ``rate`` events/s offered (open loop, ``PER_POST`` events a
    request: 1 = single POSTs), and the bench process's own CPU share (the client's cost).
    Starts once the projector has caught up with what earlier phases posted (a backlog
    would be measured as this load's delay); ``seed`` gives each phase its own event ids."""
    topic, stop = f"{stack.name}.events", asyncio.Event()
    await phases.settle(conn, topic, DRAIN_CAP)
    items = events.events(int(rate * seconds), seed)
    say(f"pipeline: {rate:,} events/s offered for {seconds:.0f} s, {PER_POST} a request "
        "(POST→visible)")
    watcher = asyncio.create_task(phases.watch_offsets(conn, topic, stop))
    cpu = time.process_time()
    load = await phases.post_at_rate(stack, items, rate, seconds, per_post=PER_POST)
    cpu = time.process_time() - cpu
    await asyncio.sleep(2.0)
    stop.set()
    found = phases.delays(load.sent, await watcher)
    wall = load.finished - load.started
    return {"offered": rate, "per_post": PER_POST, "achieved": load.accepted / wall,
            "events": len(found), "median_s": phases.quantile(found, 0.5),
            "p99_s": phases.quantile(found, 0.99), "max_s": phases.quantile(found, 1.0),
            "client_cpu_share": cpu / wall, "load_average_after": os.getloadavg()[0]}


async def drain(conn: asyncpg.Connection, settings: Settings, workers: int,
                records: list[tuple[int, bytes, bytes]],
                bare: dict[str, float] | None = None) -> tuple[float, dict[str, float]]:
    """Events/s of ``workers`` projector processes working off a pre-filled topic; with
    ``bare``, first a bare faust agent's rate on the same topic (``bare["faust_agent"]``)."""
    stack = Stack(partitions=PARTITIONS, extra_env=BENCH_ENV)
    try:
        await ceilings.create_topic(settings, f"{stack.name}.events", PARTITIONS)
        await ceilings.produce(settings, f"{stack.name}.events", records)
        if bare is not None:
            say(f"ceiling: bare faust agent over {len(records):,} events "
                f"(load average {os.getloadavg()[0]:.1f})")
            bare["faust_agent"] = await asyncio.to_thread(
                projector_rate.measure_bare_agent, f"{stack.name}.events", len(records))
        say(f"projector: {workers} worker(s) drain {len(records):,} events "
            f"(load average {os.getloadavg()[0]:.1f})")
        for _ in range(workers):
            stack.start_projector()
        seen, done, first = await phases.wait_visible(
            conn, f"{stack.name}.events", len(records), 60 + DRAIN_CAP)
        rss = rss_of(stack, f"{workers}w-")
        return seen / (done - first) if first and done > first else 0.0, rss
    finally:
        stack.stop()
        await drop(conn, settings, stack.name, [f"{stack.name}.events", f"{stack.name}.dlq"])


async def main() -> dict[str, Any]:
    settings, run = Settings(), "bench_" + uuid.uuid4().hex[:8]
    say(f"run {run}: building {EVENTS:,} records as ingest does")
    records = events.log_records(events.events(EVENTS, 1), PARTITIONS)
    conn = await asyncpg.connect(settings.dsn)
    stack = Stack(partitions=PARTITIONS, extra_env=BENCH_ENV)
    try:
        ceiling = await measure_ceilings(settings, run, records)
        replayed = await replay_phase(settings, run, records[:REPLAY_EVENTS])
        stack.start_ingest()
        stack.start_projector()
        stack.start_api()
        http = await http_phases(conn, stack)
        rss = rss_of(stack)
        stack.stop()
        one, rss1 = await drain(conn, settings, 1, records[: EVENTS // 2], ceiling)
        two, rss2 = await drain(conn, settings, 2, records[: EVENTS // 2])
    finally:
        stack.stop()
        for schema in (f"{run}_copy", f"{run}_upsert", f"replay_{run}"):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await drop(conn, settings, stack.name, [f"{stack.name}.events", f"{stack.name}.dlq",
                                                f"{run}.ceiling", f"{run}.replay"])
        await conn.close()
    return figures(ceiling, http, replayed, one, two, {**rss, **rss1, **rss2}, records)


def figures(ceiling: dict[str, float], http: dict[str, Any], replayed: dict[str, Any],
            one: float, two: float, rss: dict[str, float],
            records: list[tuple[int, bytes, bytes]]) -> dict[str, Any]:
    ceiling["slower"] = min(ceiling["kafka"], ceiling["pg_write"])
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(), "load_average": os.getloadavg(),
        "settings": {"events": EVENTS, "seconds": SECONDS, "rate": RATE,
                     "partitions": PARTITIONS},
        "average_record_bytes": sum(len(v) for _, _, v in records) / len(records),
        "ceilings": ceiling, "http": http, "replay": replayed,
        "projector_drain": {"one_worker": one, "two_workers": two},
        "latency": http["latency"], "sweep": http["sweep"], "peak_rss_mib": rss,
        "ratios": {
            "batch POST, ingest": (http["batch"]["ingest_rate"], "kafka_produce"),
            "batch POST, end to end": (http["batch"]["end_to_end_rate"], "slower"),
            "single POST, end to end": (http["single"]["end_to_end_rate"], "slower"),
            "projector, 1 worker": (one, "slower"),
            "projector vs bare faust agent": (one, "faust_agent"),
            "projector, 2 workers": (two, "slower"),
            "replay": (replayed["rate"], "slower"),
        },
    }


if __name__ == "__main__":
    results = uvloop.run(main())  # the client's event loop: the cheaper the client, the fairer
    print(report.text(results))
    for path in report.save(results, time.strftime("%Y%m%dT%H%M%S")):
        say(f"saved {path}")
