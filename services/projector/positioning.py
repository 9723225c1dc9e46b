"""Where the projector reads from, after every partition assignment.

Faust positions the consumer at Kafka's committed offsets; ``ProjectorApp`` then calls
``LogGate.position``, which checks that the log is the one the read models came from
(``saylau.log.identity``: topic id, end offsets, chain heads) and seeks each partition to the
offset stored in PostgreSQL. So a Kafka commit ahead of PostgreSQL never skips an event, and
a recreated topic or another cluster is refused (nothing applied) with the reason in the log,
/readyz, ``log_status`` (for the api) and ``saylau_projector_log_mismatch_total``.

A topic recreated under the running projector triggers no assignment: ``watch`` compares the
topic's id every ``LOG_WATCH_SECONDS``, and a batch holding records below the stored offsets
(a consumer reset to the new topic's start) has the log checked again before it is applied.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import faust
from prometheus_client import Counter
from tenacity import AsyncRetrying

from saylau.bootstrap import migrate_ingest
from saylau.log.identity import ObservedLog, check_identity
from saylau.log.kafka import chain_hashes_at, log_facts
from saylau.log.watch import current_topic_id, recreated
from saylau.readmodels import tracking
from saylau.settings import Settings
from saylau.store.db import migrate
from services.projector.health import Health
from services.projector.stopping import ASKED, StopWorker

log = logging.getLogger("saylau.projector")
LOG_MISMATCH = Counter("saylau_projector_log_mismatch_total",
                       "Checks that found the log is not the one the read models came from")


class ProjectorApp(faust.App):
    """A faust app that calls ``after_seek(consumer)`` each time faust has positioned the
    consumer at Kafka's committed offsets (after every partition assignment)."""

    after_seek: Callable[[Any], Awaitable[None]] | None = None

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        seek_to_committed = consumer.perform_seek

        async def perform_seek() -> None:
            await seek_to_committed()
            if self.after_seek is not None:
                await self.after_seek(consumer)

        consumer.perform_seek = perform_seek
        return consumer


class LogGate:
    """Opens once the assigned partitions' log is verified and the consumer positioned."""

    def __init__(self, cfg: Settings, health: Health,
                 retrying: Callable[[float], AsyncRetrying]) -> None:
        self.cfg, self.health, self.retrying = cfg, health, retrying
        self.verified = asyncio.Event()
        self.topic_id: str | None = None
        """The verified topic's id, recorded with the offsets of every batch."""

    async def position(self, consumer: Any) -> None:
        """Check the log's identity, then seek every assigned partition to its stored offset."""
        tps = [tp for tp in consumer.assignment() if tp.topic == self.cfg.events_topic]
        if not tps:
            return
        self.verified.clear()
        stored = await self.retrying(0.5)(self.check_log)
        if stored is None:
            return  # refused: the agent keeps waiting, nothing is applied or acknowledged
        for tp in tps:
            await consumer.seek(tp, stored.get(tp.partition, 0))
        log.info("positioned at the stored offsets %s",
                 {tp.partition: stored.get(tp.partition, 0) for tp in tps})
        self.verified.set()

    async def recheck(self, why: str) -> bool:
        """Check the log again before applying a batch that ``why`` makes suspect; True when
        it is the one the read models came from (else refused, and the gate closed)."""
        log.warning("checking the log again: %s", why)
        return await self.retrying(0.5)(self.check_log) is not None

    async def watch(self) -> None:
        """Refuse once the events topic's id is no longer the verified one."""
        current = await current_topic_id(self.cfg.kafka_bootstrap, self.cfg.events_topic)
        reason = recreated(self.cfg.events_topic, self.topic_id, current, "projector")
        if reason is not None:
            await self.refuse(reason)

    async def refuse(self, reason: str) -> None:
        """Close the gate: nothing is applied; the reason in /readyz and ``log_status``."""
        self.verified.clear()
        self.topic_id = None
        self.health.refusal = reason
        LOG_MISMATCH.inc()
        log.error("projector refuses to apply anything: %s", reason)
        try:
            conn = await asyncpg.connect(self.cfg.dsn, timeout=10)
            try:
                await tracking.write_status(conn, self.cfg.read_schema, self.cfg.events_topic,
                                            False, reason)
            finally:
                await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("refusal not recorded for the api (%s); /readyz has it", exc)

    async def check_log(self) -> dict[int, int] | None:
        """The stored next offsets when the log is the one the read models came from; else
        None, with the reason in the log, /readyz, ``log_status`` and the mismatch metric."""
        cfg = self.cfg
        await migrate_ingest(cfg)  # may precede the agent
        conn = await asyncpg.connect(cfg.dsn, timeout=10)
        try:
            await migrate(conn, cfg.read_schema)
            stored = await tracking.stored_identity(conn, cfg.read_schema, cfg.events_topic)
            topic_id, ends = await log_facts(cfg.kafka_bootstrap, cfg.events_topic)
            chain = (await chain_hashes_at(cfg.kafka_bootstrap, cfg.events_topic,
                                           dict(stored.next_offsets)) if stored else {})
            verdict = check_identity(stored, ObservedLog(topic_id, ends, chain))
            await tracking.write_status(conn, cfg.read_schema, cfg.events_topic, verdict.ok,
                                        verdict.reason)
        finally:
            await conn.close()
        self.health.refusal = None if verdict.ok else verdict.reason
        if not verdict.ok:
            self.verified.clear()
            self.topic_id = None
            LOG_MISMATCH.inc()
            log.error("projector refuses to apply anything: %s", verdict.reason)
            return None
        self.topic_id = topic_id
        return dict(stored.next_offsets) if stored else {}

    async def wait(self, should_stop: Callable[[], bool]) -> None:
        """Hold the batch until the log is verified; when asked to stop meanwhile, stop
        without acknowledging (StopWorker, as the projector's back-off does)."""
        while not self.verified.is_set():
            if should_stop():
                log.warning("stopping while the log is not verified; nothing was applied")
                raise StopWorker(ASKED, "asked to stop while the log is not verified")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.verified.wait(), 0.5)
