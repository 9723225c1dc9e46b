"""Projector: faust-streaming agents that project the event log into PostgreSQL read models.

The agent only batches and retries; all projection logic is ``saylau.store.Projection``, the
same code ``saylau replay`` runs. Offsets stored in PostgreSQL (written in each batch's
transaction) decide what is applied, so faust's own commits may lag without harm.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator

import asyncpg
import faust
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from saylau.catalogue import catalogue
from saylau.db import connect_pool, migrate
from saylau.decode import Message
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.feed import ChangeFeed
from saylau.kafka import ensure_topics
from saylau.settings import settings
from saylau.store import Projection

log = logging.getLogger("saylau.projector")
cfg = settings()
APPLIED = Counter("saylau_projector_events_applied_total", "Events applied to read models")
DEAD = Counter("saylau_projector_dead_letters_total", "Records sent to the dead-letter table")
APPLY_SECONDS = Histogram("saylau_projector_batch_apply_seconds", "Batch transaction time")
LAG = Gauge("saylau_projector_lag", "High watermark minus next offset", ["partition"])
MAX_BACKOFF = 10.0

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
)
events_topic = app.topic(cfg.events_topic, value_type=bytes, key_type=bytes)


def rule_config() -> RuleConfig:
    return RuleConfig(surge_threshold=cfg.surge_threshold,
                      surge_window_minutes=cfg.surge_window_minutes,
                      kettling_max_hours=cfg.kettling_max_hours)


def live_projection() -> Projection:
    return Projection(cfg.read_schema, cfg.events_topic, catalogue(), Calendars.load(),
                      rule_config(), ChangeFeed(notify=True))


async def apply_until_done(pool: asyncpg.Pool, projection: Projection,
                           batch: list[Message]) -> None:
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
            return
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError,
                asyncio.TimeoutError) as exc:
            log.warning("batch of %d not applied (%s); retrying in %.1fs", len(batch), exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


async def connect_with_retry() -> asyncpg.Pool:
    delay = 0.5
    while True:
        try:
            pool = await connect_pool(cfg.dsn, max_size=4)
            async with pool.acquire() as conn:
                await migrate(conn, cfg.read_schema)
            return pool
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("PostgreSQL unavailable (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)


@app.agent(events_topic)
async def project_events(stream: Any) -> AsyncIterator[None]:
    """Project each batch of the events topic in one transaction."""
    pool = await connect_with_retry()
    projection = live_projection()
    async for events in stream.take_events(cfg.projector_batch, cfg.projector_batch_seconds):
        batch = [Message(e.message.partition, e.message.offset, e.message.value) for e in events]
        await apply_until_done(pool, projection, batch)
        yield None


@app.timer(interval=2.0)
async def report_lag() -> None:
    """Export per-partition lag as a gauge."""
    consumer = app.consumer
    for tp in consumer.assignment():
        if tp.topic != cfg.events_topic:
            continue
        high = consumer.highwater(tp)
        position = consumer._active_partitions and await _position(consumer, tp)
        if high is not None and position is not None:
            LAG.labels(str(tp.partition)).set(max(high - position, 0))


async def _position(consumer: Any, tp: Any) -> int | None:
    try:
        return int(await consumer._consumer.position(tp))  # aiokafka's read position
    except Exception:
        return None


def main() -> None:
    """Run one projector worker (several may run: they share the partitions)."""
    from saylau.web import setup_logging

    setup_logging()
    asyncio.run(ensure_topics(cfg))
    if cfg.projector_metrics_port:
        start_http_server(cfg.projector_metrics_port, addr="127.0.0.1")
    from faust.worker import Worker

    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
