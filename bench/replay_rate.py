"""Replay rate: ``saylau replay`` over a fresh topic of at least 200,000 events.

Produces the events straight to a new, uniquely named topic with aiokafka, as ingest would
append them (``bench.events.log_records``: wire envelope, content hash, chain per partition),
then times ``saylau replay`` as a subprocess and writes ``bench/results/replay_rate.json``.
``--profile`` replays again in-process under cProfile and adds wall time per read model's
write and per bookkeeping step (offsets, dedup lookups), to show where a batch's time goes.

    . infra/env.sh && .venv/bin/python -m bench.replay_rate --events 200000
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.events import events, log_records
from saylau.log.kafka import ensure_topics
from saylau.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "replay_rate.json"
SAYLAU = Path(sys.executable).parent / "saylau"
REASONS = ("pcr_test", "temperature", "not_on_list", "no_document", "other")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def produce(cfg: Settings, n: int, seed: int) -> float:
    """Append ``n`` records to ``cfg.events_topic``; returns seconds spent producing."""
    await ensure_topics(cfg)
    started = time.perf_counter()
    records = log_records(valid(events(n, seed)), cfg.events_partitions)
    say(f"built {n:,} records in {time.perf_counter() - started:.1f} s")
    producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        for i in range(0, n, 10_000):
            sends = [await producer.send(cfg.events_topic, value, key=key, partition=partition)
                     for partition, key, value in records[i:i + 10_000]]
            await asyncio.gather(*sends)
            say(f"\rproduced {min(i + 10_000, n):,}/{n:,}")
    finally:
        await producer.stop()
    return time.perf_counter() - started


def valid(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """bench.events draws a reason the catalogue rejects; use the enum value instead."""
    for item in items:
        if item["type"] == "voter.turned_away" and item["payload"].get("reason") not in REASONS:
            item["payload"]["reason"] = "not_on_list"
    return items


def timed_replay(env: dict[str, str], topic: str, schema: str, batch: int) -> dict[str, Any]:
    """Run ``saylau replay`` and read its own events/s figure."""
    started = time.perf_counter()
    done = subprocess.run([str(SAYLAU), "replay", "--topic", topic, "--schema", schema,
                           "--batch", str(batch)], check=False, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"saylau replay failed ({done.returncode}): {done.stderr}")
    say(done.stdout.strip())
    found = re.search(r"replayed ([\d,]+) records .* in ([\d.]+) s: ([\d,]+) events/s",
                      done.stdout)
    assert found, done.stdout
    return {"records": int(found[1].replace(",", "")), "seconds": float(found[2]),
            "events_per_second": int(found[3].replace(",", "")), "wall_seconds": wall,
            "summary": done.stdout.strip().splitlines()}


async def profile(cfg: Settings, topic: str, schema: str, batch: int) -> dict[str, Any]:
    """Replay in-process under cProfile; SQL wall time per read model and bookkeeping step."""
    from saylau.audit.logsource import KafkaLog
    from saylau.audit.replay import prepare_schema, replay, replay_projection
    from saylau.readmodels import events as stored_events
    from saylau.readmodels import postgres, tracking

    spent: dict[str, float] = defaultdict(float)
    for module, name in ((tracking, "lock_offsets"), (tracking, "save_offsets"),
                         (tracking, "insert_dead_letters"), (stored_events, "known_event_ids"),
                         (stored_events, "fetch_records")):
        setattr(module, name, _timed(getattr(module, name), name, spent))
    postgres.READ_MODELS = tuple(replace(m, write=_timed(m.write, m.name, spent))
                                 for m in postgres.READ_MODELS)
    conn = await asyncpg.connect(cfg.dsn, command_timeout=None)
    profiler = cProfile.Profile()
    try:
        await prepare_schema(conn, schema, cfg, force=False)
        async with KafkaLog(cfg.kafka_bootstrap, topic) as log:
            profiler.enable()
            stats = await replay(conn, log, replay_projection(schema, topic, cfg), batch)
            profiler.disable()
    finally:
        await conn.close()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
    return {"seconds": stats.seconds, "events_per_second": round(stats.rate),
            "sql_wall_seconds": {k: round(v, 2) for k, v in
                                 sorted(spent.items(), key=lambda kv: -kv[1])},
            "cprofile_top_cumulative": text.getvalue().splitlines()[:60]}


def _timed(fn: Any, name: str, spent: dict[str, float]) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
    return wrapper


async def drop(cfg: Settings, schemas: list[str], topics: list[str]) -> None:
    conn = await asyncpg.connect(cfg.dsn)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20210110)
    ap.add_argument("--profile", action="store_true", help="also replay under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep the topic and schemas")
    args = ap.parse_args()
    name = f"bench_replay_{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    cfg = Settings(events_topic=f"{name}.events", dead_letter_topic=f"{name}.dlq")
    env = {**os.environ, "EVENTS_TOPIC": cfg.events_topic}
    produce_seconds = asyncio.run(produce(cfg, args.events, args.seed))
    result: dict[str, Any] = {"topic": cfg.events_topic, "events": args.events,
                              "partitions": cfg.events_partitions, "batch": args.batch,
                              "produce_seconds": round(produce_seconds, 1),
                              "replay": timed_replay(env, cfg.events_topic, f"replay_{name}",
                                                     args.batch),
                              "cpus": os.cpu_count(), "when": time.strftime("%FT%T%z")}
    schemas = [f"replay_{name}"]
    if args.profile:
        schemas.append(f"replay_{name}_profile")
        result["profile"] = asyncio.run(profile(cfg, cfg.events_topic, schemas[-1], args.batch))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "profile"}, indent=2))
    if not args.keep:
        asyncio.run(drop(cfg, schemas, [cfg.events_topic, cfg.dead_letter_topic]))


if __name__ == "__main__":
    main()
