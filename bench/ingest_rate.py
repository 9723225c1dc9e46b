"""Ingest rates beside their ceilings, in one run (part of ``make bench``).

- ceilings: raw aiokafka produce (ingest's producer settings, batches of 1,000) and the
  PostgreSQL insert ingest does (``accepted_events`` via unnest, in groups of 32 and 1,000);
- single POST: Debian's ``wrk`` (32 keep-alive connections, ``bench/wrk_single.lua``, a new
  event id per request) against ONE ingest process: accepted/s, p50 / p99;
- batch POST: 4 clients, 1,000 events per request: accepted/s;
- the ingest process's peak RSS, and the load average before each phase.

``--profile`` also records the ingest process with py-spy during the single-POST phase
(``bench/results/ingest_profile.txt``: collapsed stacks; the top frames go into the JSON).

    export KAFKA_BOOTSTRAP=… DATABASE_URL=…; .venv/bin/python -m bench.ingest_rate
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import ceilings, events, phases
from bench.stacks import drop, peak_rss_mib
from saylau.settings import Settings
from saylau.store.migrations import upgrade
from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SECONDS = float(os.environ.get("BENCH_SECONDS", "12"))
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "6"))
CEILING_EVENTS = int(os.environ.get("BENCH_INGEST_CEILING_EVENTS", "40000"))
CONNECTIONS = 32


def say(message: str) -> None:
    print(f"[bench ingest {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def pg_insert(conn: asyncpg.Connection, dsn: str, schema: str, n: int,
                    group: int) -> float:
    """Rows/s of ingest's ``accepted_events`` insert (unnest), ``group`` rows a statement."""
    await upgrade(dsn, schema)  # the ingest tables as ingest migrates them
    now, ids = datetime.now(UTC), [uuid.uuid4() for _ in range(n)]
    sql = (f'INSERT INTO "{schema}".accepted_events (event_id, content_hash, kafka_key, '
           "kafka_partition, kafka_offset, partner, received_at) SELECT * FROM unnest("
           "$1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], "
           "$7::timestamptz[]) ON CONFLICT DO NOTHING")
    started = time.perf_counter()
    for i in range(0, n, group):
        chunk = ids[i:i + group]
        k = len(chunk)
        await conn.execute(sql, chunk, ["h" * 64] * k, ["PS-1"] * k, [0] * k,
                           list(range(i, i + k)), ["bench"] * k, [now] * k)
    return n / (time.perf_counter() - started)


async def measure_ceilings(settings: Settings, run: str) -> dict[str, Any]:
    records = events.log_records(events.events(CEILING_EVENTS, 11), PARTITIONS)
    topic = f"{run}.ceiling"
    await ceilings.create_topic(settings, topic, PARTITIONS)
    out: dict[str, Any] = {"load_average_before": load_average()}
    say(f"ceiling: raw aiokafka produce of {len(records):,} records")
    out["kafka_produce"] = await ceilings.produce(settings, topic, records)
    conn = await asyncpg.connect(settings.dsn)
    try:
        say("ceiling: PostgreSQL accepted_events insert, groups of 32 and 1,000")
        out["pg_insert_32"] = await pg_insert(conn, settings.dsn, f"{run}_i32", 20_000, 32)
        out["pg_insert_1000"] = await pg_insert(conn, settings.dsn, f"{run}_i1k", CEILING_EVENTS,
                                             1000)
        for schema in (f"{run}_i32", f"{run}_i1k"):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')
    finally:
        await conn.close()
    return out


def wrk_single(stack: Stack, seconds: float, profile: bool) -> dict[str, Any]:
    """Debian's wrk: 32 connections POST unique single events for ``seconds``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (scripts/bench.sh installs it: apt-get install wrk)")
    out: dict[str, Any] = {"load_average_before": load_average()}
    spy = spy_on(stack, seconds, "ingest_profile.txt") if profile else None
    cpu = cpu_seconds(stack.procs["ingest"][0].pid)
    done = subprocess.run([wrk, "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--latency",
                           "-s", str(ROOT / "bench" / "wrk_single.lua"), stack.ingest_url,
                           "--", stack.writer_key], capture_output=True, text=True, check=True)
    cpu = cpu_seconds(stack.procs["ingest"][0].pid) - cpu
    if spy is not None:
        spy.wait(timeout=60)
        out["profile_top"] = top_frames(RESULTS / "ingest_profile.txt")
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1]
    figures = json.loads(line)
    seconds_run = figures["duration_us"] / 1e6
    out.update(connections=CONNECTIONS, accepted=figures["accepted"],
               not_accepted=figures["other"], socket_errors=figures["socket_errors"],
               accepted_per_s=figures["accepted"] / seconds_run,
               p50_ms=figures["p50_us"] / 1000, p90_ms=figures["p90_us"] / 1000,
               p99_ms=figures["p99_us"] / 1000, max_ms=figures["max_us"] / 1000,
               ingest_cpu_share=cpu / seconds_run,
               ingest_cpu_us_per_accepted=1e6 * cpu / max(figures["accepted"], 1))
    return out


def spy_on(stack: Stack, seconds: float, name: str) -> subprocess.Popen[bytes]:
    """py-spy records the ingest process for ``seconds`` into ``bench/results/<name>``."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                             str(stack.procs["ingest"][0].pid), "-d", str(int(seconds)),
                             "-r", "100", "--gil", "--format", "raw", "-o", str(RESULTS / name)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def top_frames(raw: Path, n: int = 25) -> list[tuple[str, float]]:
    """Share of samples in which each function is on the stack (py-spy's collapsed stacks)."""
    total, inclusive = 0, {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    return [(frame, round(count / max(total, 1), 3)) for frame, count in ranked]


async def batch(stack: Stack, seconds: float, profile: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"load_average_before": load_average()}
    items = events.events(int(30_000 * seconds), 23)
    bodies = [json.dumps(items[i:i + 1000]).encode() for i in range(0, len(items), 1000)]
    spy = spy_on(stack, seconds, "ingest_batch_profile.txt") if profile else None
    cpu = cpu_seconds(stack.procs["ingest"][0].pid)
    load = await phases.post_batches(stack, bodies, seconds, clients=4)
    cpu = cpu_seconds(stack.procs["ingest"][0].pid) - cpu
    if spy is not None:
        spy.wait(timeout=60)
        out["profile_top"] = top_frames(RESULTS / "ingest_batch_profile.txt")
    out.update(clients=4, per_request=1000, accepted=load.accepted, not_accepted=load.other,
               accepted_per_s=load.accepted / (load.finished - load.started),
               ingest_cpu_share=cpu / (load.finished - load.started),
               ingest_cpu_us_per_accepted=1e6 * cpu / max(load.accepted, 1))
    return out


async def main(profile: bool) -> dict[str, Any]:
    settings, run = Settings(), "bench_" + uuid.uuid4().hex[:8]
    figures: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cores": os.cpu_count(),
        "settings": {"seconds": SECONDS, "partitions": PARTITIONS}}
    stack = Stack(partitions=PARTITIONS, extra_env={"RATE_LIMIT_PER_SECOND": "0"})
    conn = await asyncpg.connect(settings.dsn)
    try:
        figures["ceilings"] = await measure_ceilings(settings, run)
        stack.start_ingest()
        say(f"single POST: wrk, {CONNECTIONS} connections, {SECONDS:.0f} s")
        figures["single"] = wrk_single(stack, SECONDS, profile)
        say(f"batch POST: 4 clients x 1,000 events, {SECONDS:.0f} s")
        figures["batch"] = await batch(stack, SECONDS, profile)
        figures["ingest_peak_rss_mib"] = peak_rss_mib(stack.procs["ingest"][0].pid)
    finally:
        stack.stop()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{stack.name}" CASCADE')
        await drop(conn, settings, f"{stack.name}_ingest",
                   [f"{stack.name}.events", f"{stack.name}.dlq", f"{run}.ceiling"])
        await conn.close()
    return figures


def text(f: dict[str, Any]) -> str:
    c, s, b = f["ceilings"], f["single"], f["batch"]
    return "\n".join([
        f"ingest, one process ({f['when']}, {f['cores']} cores)",
        (f"  ceiling raw aiokafka produce   {c['kafka_produce']:>9,.0f} events/s"
        f"   (load before {c['load_average_before']})"),
        f"  ceiling PG insert, groups 32   {c['pg_insert_32']:>9,.0f} rows/s",
        f"  ceiling PG insert, groups 1000 {c['pg_insert_1000']:>9,.0f} rows/s",
        (f"  single POST (wrk, {s['connections']} conns)  {s['accepted_per_s']:>9,.0f} accepted/s"
        f"   p50 {s['p50_ms']:.1f} ms  p99 {s['p99_ms']:.1f} ms  not 202: {s['not_accepted']}"
        f"   (load before {s['load_average_before']})"),
        (f"  batch POST (4 x 1000)          {b['accepted_per_s']:>9,.0f} accepted/s"
        f"   not 202: {b['not_accepted']}   (load before {b['load_average_before']})"),
        (f"  ingest CPU per accepted event  single {s['ingest_cpu_us_per_accepted']:,.0f} µs"
         f" ({s['ingest_cpu_share']:.0%} of a core), batch {b['ingest_cpu_us_per_accepted']:,.0f}"
         f" µs ({b['ingest_cpu_share']:.0%} of a core)"),
        f"  ingest peak RSS                {f['ingest_peak_rss_mib']:>9,.0f} MiB",
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="py-spy profile of ingest (collapsed stacks)")
    parser.add_argument("--label", default="", help="a name saved with the figures")
    args = parser.parse_args()
    results = asyncio.run(main(args.profile))
    results["label"] = args.label
    print(text(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path in (RESULTS / f"ingest_{stamp}.json", RESULTS / "ingest_latest.json"):
        path.write_text(json.dumps(results, indent=2) + "\n")
        say(f"saved {path}")
