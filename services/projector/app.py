"""Projector: faust-streaming agents that project the event log into PostgreSQL read models.

The agent only batches and retries; all projection logic is ``saylau.readmodels.transaction.Projection``, the
same code ``saylau replay`` runs. Offsets stored in PostgreSQL (written in each batch's
transaction) decide what is applied, so faust's own commits may lag without harm; and after
every partition assignment ``services.projector.positioning`` checks that the log is the one
the read models came from and seeks each partition to its stored offset, so a Kafka commit
ahead of PostgreSQL never skips an event; on a mismatch nothing is applied.
``create_app(settings)`` builds the faust app; nothing is built at import.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from saylau.bootstrap import Needs, Wiring, bootstrap
from saylau.db import UNAVAILABLE
from saylau.decode import Message
from saylau.kafka import ensure_topics
from saylau.readmodels.transaction import BatchResult
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from services.projector.dead_letters import publish_dead_letters
from services.projector.health import Health, serve
from services.projector.positioning import LogGate, ProjectorApp

log = logging.getLogger("saylau.projector")
APPLIED = Counter("saylau_projector_events_applied_total", "Events applied to read models")
DEAD = Counter("saylau_projector_dead_letters_total", "Records sent to the dead-letter table")
APPLY_SECONDS = Histogram("saylau_projector_batch_apply_seconds", "Batch transaction time")
MAX_BACKOFF = 10.0
FAUST_DIR = Path(__file__).resolve().parents[2] / "var" / "faust"


class Projector:
    """One worker: a faust app whose agent applies each batch in one transaction."""

    def __init__(self, cfg: Settings) -> None:
        self.cfg, self.health = cfg, Health(cfg)
        self.gate = LogGate(cfg, self.health, self.retrying)
        FAUST_DIR.mkdir(parents=True, exist_ok=True)
        self.app = ProjectorApp(
            cfg.projector_group, broker=f"kafka://{cfg.kafka_bootstrap}",
            value_serializer="raw", key_serializer="raw", web_enabled=False,
            store="memory://", topic_disable_leader=True,
            consumer_auto_offset_reset="earliest", broker_commit_every=1000,
            broker_commit_interval=1.0, stream_buffer_maxsize=8192,
            datadir=str(FAUST_DIR / cfg.projector_group))
        topic = self.app.topic(cfg.events_topic, value_type=bytes, key_type=bytes)
        self.app.agent(topic, name="services.projector.app.project_events")(self.project_events)
        self.app.timer(interval=2.0, name="report_lag")(self.report_lag)
        self.app.task(self.serve_health)
        self.app.after_seek = self.gate.position

    async def project_events(self, stream: Any) -> AsyncIterator[None]:
        """Project each batch of the events topic in one transaction."""
        wiring = await self.connect()
        try:
            async for events in stream.take_events(self.cfg.projector_batch,
                                                   self.cfg.projector_batch_seconds):
                batch = [Message(e.message.partition, e.message.offset, e.message.value)
                         for e in events]
                await self.gate.wait(lambda: bool(self.app.should_stop))
                assert wiring.projection is not None
                wiring.projection.topic_id = self.gate.topic_id
                result = await self.apply_or_exit(wiring, batch)
                assert wiring.producer is not None
                await publish_dead_letters(wiring.producer, self.cfg, result.dead)
                yield None
        finally:
            await wiring.close()

    async def connect(self) -> Wiring:
        """Pool (migrated), producer and live projection, retried while PostgreSQL is away."""
        wiring: Wiring = await self.retrying(0.5)(bootstrap, self.cfg,
                                                  Needs(pool_size=4, producer=True,
                                                        projection=True))
        self.health.pool = wiring.pool
        return wiring

    async def apply_or_exit(self, wiring: Wiring, batch: list[Message]) -> BatchResult:
        """The batch applied; on a bug, exit before faust acknowledges it."""
        try:
            return await self.retrying(0.2)(self.apply, wiring, batch)
        except Exception:  # a bug: crash before faust acknowledges the batch
            log.exception("projection failed; exiting without acknowledging the batch")
            logging.shutdown()
            os._exit(70)

    async def apply(self, wiring: Wiring, batch: list[Message]) -> BatchResult:
        assert wiring.projection is not None
        started = time.perf_counter()
        async with wiring.pool.acquire() as conn:
            result = await wiring.projection.apply(conn, batch)
        APPLY_SECONDS.observe(time.perf_counter() - started)
        APPLIED.inc(result.applied)
        DEAD.inc(len(result.dead))
        return result

    def retrying(self, first: float) -> AsyncRetrying:
        """Retry while PostgreSQL is away, backing off from ``first`` s to MAX_BACKOFF."""
        return AsyncRetrying(retry=retry_if_exception_type(UNAVAILABLE),
                             wait=wait_exponential(multiplier=first, max=MAX_BACKOFF),
                             sleep=self.back_off, before_sleep=log_retry)

    async def back_off(self, delay: float) -> None:
        """Sleep before a retry; when asked to stop meanwhile, exit without acknowledging.

        Leaving the agent normally would let faust acknowledge (and commit) the batch that
        was never applied; exiting at once leaves Kafka's offsets behind PostgreSQL's, which
        is safe: the batch is read again on restart and the stored offsets filter it.
        """
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self.app.should_stop:
                log.warning("stopping while PostgreSQL is unavailable; unapplied work is re-read")
                logging.shutdown()
                os._exit(0)
            await asyncio.sleep(0.2)

    async def report_lag(self) -> None:
        await self.health.measure_lag(self.app.consumer)

    async def serve_health(self) -> None:
        """/healthz, /readyz and /metrics on PROJECTOR_METRICS_PORT (off when 0)."""
        if self.cfg.projector_metrics_port:
            await serve(self.health, self.cfg.projector_metrics_port)


def log_retry(state: Any) -> None:
    log.warning("PostgreSQL unavailable (%s); retrying in %.1fs", state.outcome.exception(),
                state.next_action.sleep)


def create_app(cfg: Settings | None = None) -> faust.App:
    """The projector's faust app for ``cfg`` (default: from the environment)."""
    return Projector(cfg or load_settings()).app


def main() -> None:
    """Run one projector worker (several may run: they share the partitions)."""
    from faust.worker import Worker

    from saylau.web import setup_logging

    setup_logging()
    cfg = load_settings()
    asyncio.run(ensure_topics(cfg))
    Worker(create_app(cfg), loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
