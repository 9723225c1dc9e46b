"""Projector: faust-streaming agents that project the event log into PostgreSQL read models.

The agent only batches and retries; all projection logic is ``saylau.store.Projection``, the
same code ``saylau replay`` runs. Offsets stored in PostgreSQL (written in each batch's
transaction) decide what is applied, so faust's own commits may lag without harm.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import faust
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from saylau.bootstrap import build_projection
from saylau.db import UNAVAILABLE, connect_pool, migrate
from saylau.decode import Message
from saylau.feed import ChangeFeed
from saylau.kafka import ensure_topics, make_producer
from saylau.settings import settings
from saylau.store import BatchResult, Projection

log = logging.getLogger("saylau.projector")
cfg = settings()
APPLIED = Counter("saylau_projector_events_applied_total", "Events applied to read models")
DEAD = Counter("saylau_projector_dead_letters_total", "Records sent to the dead-letter table")
APPLY_SECONDS = Histogram("saylau_projector_batch_apply_seconds", "Batch transaction time")
LAG = Gauge("saylau_projector_lag", "High watermark minus next offset to apply", ["partition"])
MAX_BACKOFF = 10.0
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)
"""Retried, never skipped: a batch PostgreSQL refuses waits for a fix, it is not dropped."""

FAUST_DIR = Path(__file__).resolve().parents[2] / "var" / "faust"
FAUST_DIR.mkdir(parents=True, exist_ok=True)
app = faust.App(
    cfg.projector_group,
    broker=f"kafka://{cfg.kafka_bootstrap}",
    value_serializer="raw",
    key_serializer="raw",
    web_enabled=False,
    store="memory://",
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    broker_commit_every=1000,
    broker_commit_interval=1.0,
    stream_buffer_maxsize=8192,
    datadir=str(FAUST_DIR / cfg.projector_group),
)
events_topic = app.topic(cfg.events_topic, value_type=bytes, key_type=bytes)


@dataclass
class Health:
    """What readiness needs: the PostgreSQL pool and when the lag was last measured."""

    pool: asyncpg.Pool | None = None
    lag: dict[int, int] = field(default_factory=dict)
    lag_known_at: float = float("-inf")


health = Health()


def live_projection() -> Projection:
    return build_projection(cfg, cfg.read_schema, cfg.events_topic, ChangeFeed(notify=True))


async def apply_until_done(pool: asyncpg.Pool, projection: Projection,
                           batch: list[Message]) -> BatchResult:
    """Apply a batch, retrying with backoff while PostgreSQL is away; never skips a batch."""
    delay = 0.2
    while True:
        try:
            started = time.perf_counter()
            async with pool.acquire() as conn:
                result = await projection.apply(conn, batch)
            APPLY_SECONDS.observe(time.perf_counter() - started)
            APPLIED.inc(result.applied)
            DEAD.inc(len(result.dead))
            return result
        except DB_ERRORS as exc:
            log.warning("batch of %d not applied (%s); retrying in %.1fs", len(batch), exc, delay)
            await back_off(delay)
            delay = min(delay * 2, MAX_BACKOFF)


async def back_off(delay: float) -> None:
    """Sleep before a retry; when asked to stop meanwhile, exit without acknowledging.

    Leaving the agent normally would let faust acknowledge (and commit) the batch that was
    never applied; exiting at once leaves Kafka's offsets behind PostgreSQL's, which is safe:
    the batch is read again on restart and the stored offsets filter what was applied.
    """
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if app.should_stop:
            log.warning("stopping while PostgreSQL is unavailable; unapplied work is re-read")
            logging.shutdown()
            os._exit(0)
        await asyncio.sleep(0.2)


async def publish_dead_letters(producer: AIOKafkaProducer, dead: list[tuple[Message, str]]) -> None:
    """Copy each dead letter, raw bytes and reason, to the dead-letter topic, once committed.

    The ``dead_letters`` table, written in the batch's own transaction, is the record (the
    admin API and replay read it); the topic is the feed for alerting and other consumers.
    """
    delay = 0.2
    while dead:
        try:
            for message, reason in dead:
                await producer.send_and_wait(
                    cfg.dead_letter_topic, message.value,
                    key=f"{cfg.events_topic}/{message.partition}/{message.offset}".encode(),
                    headers=[("reason", reason.encode()), ("topic", cfg.events_topic.encode()),
                             ("partition", str(message.partition).encode()),
                             ("offset", str(message.offset).encode())])
            return
        except Exception as exc:  # noqa: BLE001 - any send failure: retry, the table has it
            log.warning("dead letters not published (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


async def connect_with_retry() -> asyncpg.Pool:
    delay = 0.5
    while True:
        try:
            pool = await connect_pool(cfg.dsn, max_size=4)
            async with pool.acquire() as conn:
                await migrate(conn, cfg.read_schema, cfg.ingest_schema)
            return pool
        except DB_ERRORS as exc:
            log.warning("PostgreSQL unavailable (%s); retrying", exc)
            await back_off(delay)
            delay = min(delay * 2, MAX_BACKOFF)


@app.agent(events_topic)
async def project_events(stream: Any) -> AsyncIterator[None]:
    """Project each batch of the events topic in one transaction."""
    pool = health.pool = await connect_with_retry()
    projection = live_projection()
    producer = make_producer(cfg)
    await producer.start()
    try:
        async for events in stream.take_events(cfg.projector_batch, cfg.projector_batch_seconds):
            batch = [Message(e.message.partition, e.message.offset, e.message.value)
                     for e in events]
            try:
                result = await apply_until_done(pool, projection, batch)
            except Exception:  # a bug: crash before faust acknowledges the batch
                log.exception("projection failed; exiting without acknowledging the batch")
                logging.shutdown()
                os._exit(70)
            await publish_dead_letters(producer, result.dead)
            yield None
    finally:
        await producer.stop()


@app.timer(interval=2.0)
async def report_lag() -> None:
    """Export per-partition lag: the broker's end offset minus the next offset to apply."""
    tps = [tp for tp in app.consumer.assignment() if tp.topic == cfg.events_topic]
    if health.pool is None or not tps:
        return
    try:
        ends = await asyncio.wait_for(app.consumer.highwaters(*tps), 5)
        rows = await asyncio.wait_for(health.pool.fetch(
            f'SELECT kafka_partition, next_offset FROM "{cfg.read_schema}".projector_offsets '
            "WHERE topic = $1", cfg.events_topic), 5)
    except Exception as exc:  # noqa: BLE001 - unknown lag is what readiness reports
        log.info("lag unknown: %s", exc)
        return
    applied = {r["kafka_partition"]: r["next_offset"] for r in rows}
    health.lag = {tp.partition: max(ends[tp] - applied.get(tp.partition, 0), 0) for tp in tps}
    for partition, lag in health.lag.items():
        LAG.labels(str(partition)).set(lag)
    health.lag_known_at = time.monotonic()


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(_: web.Request) -> web.Response:
    """Ready when PostgreSQL answers and the lag (which needs Kafka to answer) is fresh."""
    problems = []
    try:
        assert health.pool is not None, "no PostgreSQL pool yet"
        await asyncio.wait_for(health.pool.fetchval("SELECT 1"), 2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        problems.append(f"PostgreSQL: {exc or type(exc).__name__}")
    if time.monotonic() - health.lag_known_at > cfg.projector_ready_seconds:
        problems.append("lag unknown (Kafka or PostgreSQL not answering, or no partitions)")
    body = {"status": "not ready" if problems else "ready", "problems": problems,
            "lag": {str(p): n for p, n in sorted(health.lag.items())}}
    return web.json_response(body, status=503 if problems else 200,
                             headers={"Retry-After": "2"} if problems else None)


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@app.task
async def serve_health() -> None:
    """/healthz, /readyz and /metrics on PROJECTOR_METRICS_PORT (off when 0)."""
    if not cfg.projector_metrics_port:
        return
    server = web.Application()
    server.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz),
                       web.get("/metrics", metrics)])
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", cfg.projector_metrics_port).start()


def main() -> None:
    """Run one projector worker (several may run: they share the partitions)."""
    from saylau.web import setup_logging

    setup_logging()
    asyncio.run(ensure_topics(cfg))
    from faust.worker import Worker

    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
