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
from typing import Any, NoReturn

import asyncpg
import faust
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from saylau.audit.anchors import publish_if_due, signing_key
from saylau.audit.rebuild import ReadModelsRebuilt, hold_serving
from saylau.bootstrap import Needs, Wiring, bootstrap
from saylau.collector import quiet_collector
from saylau.log.decode import Message
from saylau.log.kafka import ChainUnreadable, ensure_topics
from saylau.readmodels.transaction import BatchResult, Decodings, LogRewound, Projection
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from saylau.store.db import UNAVAILABLE
from saylau.store.readsets import adopt, read_model_version
from services.projector.dead_letters import publish_dead_letters
from services.projector.health import Health, serve
from services.projector.pipeline import Pipeline
from services.projector.positioning import LogGate, ProjectorApp
from services.projector.stopping import ASKED, BUG, OTHER_RELEASE, StopWorker, end_process

log = logging.getLogger("saylau.projector")
APPLIED = Counter("saylau_projector_events_applied_total", "Events applied to read models")
DEAD = Counter("saylau_projector_dead_letters_total", "Records sent to the dead-letter table")
APPLY_SECONDS = Histogram("saylau_projector_batch_apply_seconds", "Batch transaction time")
MAX_BACKOFF = 10.0
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)
"""Retried, never skipped: a batch PostgreSQL refuses waits for a fix, it is not dropped."""
FAUST_DIR = Path(__file__).resolve().parents[2] / "var" / "faust"


class Projector:
    """One worker: a faust app whose agent applies each batch in one transaction."""

    def __init__(self, cfg: Settings) -> None:
        self.cfg, self.health = cfg, Health(cfg)
        self.version = read_model_version(cfg.projection_version)
        self.gate = LogGate(cfg, self.health, self.retrying)
        FAUST_DIR.mkdir(parents=True, exist_ok=True)
        self.app = ProjectorApp(cfg.projector_group, **faust_settings(cfg, FAUST_DIR))
        topic = self.app.topic(cfg.events_topic, value_type=bytes, key_type=bytes)
        self.app.agent(topic, name="services.projector.app.project_events")(self.project_events)
        self.app.timer(interval=2.0, name="report_lag")(self.report_lag)
        self.app.timer(interval=cfg.log_watch_seconds, name="watch_log")(self.gate.watch)
        self.app.task(self.serve_health)
        if cfg.saylau_checkpoint_key_file or cfg.saylau_checkpoint_key:
            self.app.timer(interval=cfg.checkpoint_minutes * 60,
                           name="publish_checkpoint")(self.publish_checkpoint)
        self.app.after_seek = self.gate.position

    async def project_events(self, stream: Any) -> AsyncIterator[None]:
        """Project each batch of the events topic in one transaction, through a pipeline
        that decodes the next batch while the current one is written."""
        wiring = await self.connect()
        quiet_collector()  # after start-up: a batch's envelopes and rows are short-lived
        projection, producer = projection_of(wiring), wiring.producer
        if producer is None:
            raise RuntimeError("bootstrap built no producer: Needs(producer=True)")

        async def apply(batch: list[Message], decoded: Decodings) -> None:
            rewound_ok = False
            while True:
                await self.gate.wait(lambda: bool(self.app.should_stop))  # log checked
                projection.topic_id = self.gate.topic_id
                try:
                    result = await self.apply_or_exit(wiring, batch, decoded, rewound_ok)
                    break
                except LogRewound as exc:  # nothing written: is it still our log?
                    rewound_ok = await self.gate.recheck(str(exc))
            await publish_dead_letters(producer, self.cfg, result.dead)

        pipeline = Pipeline(projection.decode, apply, stream.ack)
        try:
            async for events in stream.take_events(self.cfg.projector_batch,
                                                   self.cfg.projector_batch_seconds):
                for event in events:  # released by the pipeline once the batch is applied
                    event.message.incref()
                await pipeline.put(events)
                yield None
        finally:
            await pipeline.stop()
            await wiring.close()

    async def connect(self) -> Wiring:
        """Pool (migrated), producer and live projection, retried while PostgreSQL is away;
        refuses read models of another projection version (``saylau rebuild`` them).

        No reset query when a batch gives its connection back (one round trip a batch): the
        projector sets nothing on a session (``SET LOCAL``, transaction-level locks only)."""
        wiring: Wiring = await self.retrying(0.5)(bootstrap, self.cfg,
                                                  Needs(pool_size=4, producer=True,
                                                        projection=True, session_reset=False))
        self.health.pool = wiring.pool
        async with wiring.pool.acquire() as conn:
            serving = await adopt(conn, self.cfg.ingest_schema, self.cfg.read_schema,
                                  self.version)
        if serving != self.version:
            exit_now(f"the read models in {self.cfg.read_schema!r} are version {serving}; "
                     f"this release projects {self.version}: run 'saylau rebuild' (the api "
                     "keeps serving the old ones meanwhile), then start this projector")
        return wiring

    async def apply_or_exit(self, wiring: Wiring, batch: list[Message],
                            decoded: Decodings | None = None,
                            rewound_ok: bool = True) -> BatchResult:
        """The batch applied; on a bug, exit before faust acknowledges it. ``LogRewound``
        (nothing written) goes to the caller, which checks the log first."""
        try:
            return await self.retrying(0.2)(self.apply, wiring, batch, decoded, rewound_ok)
        except ReadModelsRebuilt as exc:
            exit_now(f"{exc}; stopping before this batch")
        except LogRewound:
            raise
        except Exception as exc:  # a bug: stop before faust acknowledges the batch
            log.exception("projection failed; exiting without acknowledging the batch")
            raise StopWorker(BUG, f"projection failed: {exc!r}") from exc

    async def apply(self, wiring: Wiring, batch: list[Message],
                    decoded: Decodings | None = None, rewound_ok: bool = True) -> BatchResult:
        projection = projection_of(wiring)
        started = time.perf_counter()
        async with wiring.pool.acquire() as conn, conn.transaction():
            await hold_serving(conn, self.cfg, self.version)
            result = await projection.apply(conn, batch, decoded, rewound_ok)
        APPLY_SECONDS.observe(time.perf_counter() - started)
        APPLIED.inc(result.applied)
        DEAD.inc(len(result.dead))
        return result

    def retrying(self, first: float) -> AsyncRetrying:
        """Retry while PostgreSQL is away (or a chain record of the log is not read in time),
        backing off from ``first`` s to MAX_BACKOFF."""
        return AsyncRetrying(retry=retry_if_exception_type((*DB_ERRORS, ChainUnreadable)),
                             wait=wait_exponential(multiplier=first, max=MAX_BACKOFF),
                             sleep=self.back_off, before_sleep=log_retry)

    async def back_off(self, delay: float) -> None:
        """Sleep before a retry; when asked to stop meanwhile, stop without acknowledging.

        Leaving the agent normally would let faust acknowledge (and commit) the batch that
        was never applied; StopWorker leaves Kafka's offsets behind PostgreSQL's, which is
        safe: the batch is read again on restart and the stored offsets filter it.
        """
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self.app.should_stop:
                log.warning("stopping while PostgreSQL is unavailable; unapplied work is re-read")
                raise StopWorker(ASKED, "asked to stop while PostgreSQL is unavailable")
            await asyncio.sleep(0.2)

    async def publish_checkpoint(self) -> None:
        """Sign the log's chain heads and append them as ``chain.checkpointed`` (one worker
        at a time, and not when another worker published within half the interval)."""
        try:
            checkpoint = await publish_if_due(self.cfg, signing_key(self.cfg))
        except Exception:  # a missed checkpoint must not stop the projection
            log.exception("checkpoint not published; retrying at the next interval")
            return
        if checkpoint is None:
            return
        log.warning("published checkpoint of %s: %s", self.cfg.events_topic, " ".join(
            f"{p['partition']}:{p['offset']}" for p in checkpoint["partitions"]))

    async def report_lag(self) -> None:
        await self.health.measure_lag(self.app.consumer)

    async def serve_health(self) -> None:
        """/healthz, /readyz and /metrics on PROJECTOR_METRICS_PORT (off when 0)."""
        if self.cfg.projector_metrics_port:
            await serve(self.health, self.cfg.projector_metrics_port)


def exit_now(message: str) -> NoReturn:
    """Stop the worker before faust acknowledges anything (status 75: restart it with the
    release that matches the read models)."""
    log.error(message)
    raise StopWorker(OTHER_RELEASE, message)


def projection_of(wiring: Wiring) -> Projection:
    if wiring.projection is None:
        raise RuntimeError("bootstrap built no projection: Needs(projection=True)")
    return wiring.projection


def faust_settings(cfg: Settings, datadir: Path) -> dict[str, Any]:
    """faust's settings for a projector worker (the bench's bare agent uses the same): raw
    bytes, large fetches and stream buffer, Kafka commits once a second (the offsets that
    decide what is applied are PostgreSQL's)."""
    return {"broker": f"kafka://{cfg.kafka_bootstrap}", "value_serializer": "raw",
            "key_serializer": "raw", "web_enabled": False, "store": "memory://",
            "topic_disable_leader": True, "consumer_auto_offset_reset": "earliest",
            "broker_commit_every": 1000, "broker_commit_interval": 1.0,
            "stream_buffer_maxsize": 8192, "broker_max_poll_records": 2000,
            "consumer_max_fetch_size": 8 * 1024 * 1024,
            "datadir": str(datadir / cfg.projector_group)}


def log_retry(state: Any) -> None:
    exc = state.outcome.exception()
    what = "the log's chain not read" if isinstance(exc, ChainUnreadable) else \
        "PostgreSQL unavailable"
    log.warning("%s (%s); retrying in %.1fs", what, exc, state.next_action.sleep)


def create_app(cfg: Settings | None = None) -> faust.App:
    """The projector's faust app for ``cfg`` (default: from the environment)."""
    return Projector(cfg or load_settings()).app


def main() -> None:
    """Run one projector worker (several may run: they share the partitions).

    faust's event loop is uvloop unless ``FAUST_LOOP`` names another (``aio``)."""
    from mode.loop import use as use_loop

    from saylau.web.service import setup_logging
    from services.projector.worker import ProjectorWorker

    setup_logging()
    use_loop(os.environ.get("FAUST_LOOP") or "uvloop")
    cfg = load_settings()
    asyncio.run(ensure_topics(cfg))
    try:
        ProjectorWorker(create_app(cfg), loglevel="WARNING", quiet=True).execute_from_commandline()
    finally:
        if StopWorker.first is not None:  # raised while faust was already stopping
            end_process(StopWorker.first)


if __name__ == "__main__":
    main()
