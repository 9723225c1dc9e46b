"""Wiring for every entrypoint: one ``bootstrap(settings, needs)`` builds the pool, the Kafka
producer, the projection and the intake service an entrypoint asks for. Nothing is built
at import time; ingest, api, projector, webhook worker and ``saylau replay`` all come here."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from saylau.auth import KeyRing, parse_env_keys
from saylau.catalogue import Catalogue, catalogue
from saylau.db import connect_pool, migrate
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.intake.ingest_tables import claim_log
from saylau.intake.log import ChainedLog
from saylau.intake.service import Intake
from saylau.kafka import ensure_topics, log_facts, make_producer
from saylau.logidentity import LogMismatch
from saylau.privacy.store import PostgresKeyStore, key_store
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings
from saylau.webhooks import migrate_webhooks

log = logging.getLogger("saylau.bootstrap")


@dataclass(frozen=True)
class Needs:
    """What one entrypoint needs built: the pool's size and search path, the producer (and
    the topics), the intake service, the personal-data keys (the intake always has them),
    the live projection, the webhook tables."""

    search_path: str | None = None
    pool_size: int = 10
    command_timeout: float = 30
    producer: bool = False
    intake: bool = False
    keys: bool = False
    projection: bool = False
    webhooks: bool = False


@dataclass
class Wiring:
    """What ``bootstrap`` built; ``close`` releases it."""

    settings: Settings
    pool: asyncpg.Pool
    keyring: KeyRing
    producer: AIOKafkaProducer | None = None
    intake: Intake | None = None
    projection: Projection | None = None
    keys: PostgresKeyStore | None = None

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        await self.pool.close()


async def bootstrap(cfg: Settings, needs: Needs) -> Wiring:
    """Open the pool and migrate; then the producer, intake and projection as needed."""
    pool = await connect_pool(cfg.dsn, max_size=needs.pool_size, search_path=needs.search_path,
                              command_timeout=needs.command_timeout)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, cfg.read_schema, cfg.ingest_schema)
            if needs.webhooks:
                await migrate_webhooks(conn, cfg.ingest_schema)
        wired = Wiring(cfg, pool, KeyRing(parse_env_keys(cfg.saylau_api_keys), pool,
                                          cfg.ingest_schema))
        if needs.keys or needs.intake:
            wired.keys = await key_store(pool, cfg)  # no or wrong master key: fails here
        if needs.producer or needs.intake:
            wired.producer = await start_producer(cfg, topics=needs.intake)
        if needs.intake and wired.producer is not None and wired.keys is not None:
            wired.intake = await build_intake(cfg, wired.producer, pool, wired.keys)
    except BaseException:
        await pool.close()
        raise
    if needs.projection:
        wired.projection = build_projection(cfg, cfg.read_schema, cfg.events_topic,
                                            ChangeFeed(notify=True))
    return wired


async def start_producer(cfg: Settings, topics: bool = False) -> AIOKafkaProducer:
    """The idempotent producer, started (after creating the topics when ``topics``)."""
    if topics:
        await ensure_topics(cfg)
    producer = make_producer(cfg)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


async def build_intake(cfg: Settings, producer: AIOKafkaProducer, pool: asyncpg.Pool,
                       keys: PostgresKeyStore) -> Intake:
    """Intake validates against this release's catalogue (EVENT_SCHEMA_DIR pins only what the
    projector and replay decode with). Refuses (LogMismatch) when the dedup table belongs to
    another log than the events topic it is about to append to."""
    topic_id, ends = await log_facts(cfg.kafka_bootstrap, cfg.events_topic)
    try:
        await claim_log(pool, cfg.ingest_schema, cfg.events_topic, topic_id, ends)
    except LogMismatch as exc:
        log.error("ingest refuses to start: %s", exc)
        raise
    partitions = len(await producer.partitions_for(cfg.events_topic))
    return Intake(ChainedLog(producer, cfg.events_topic, partitions), pool, catalogue(), keys)


def rule_config(cfg: Settings) -> RuleConfig:
    """The alert thresholds from the settings (the same for live and replay)."""
    return RuleConfig(surge_threshold=cfg.surge_threshold,
                      surge_window_minutes=cfg.surge_window_minutes,
                      kettling_max_hours=cfg.kettling_max_hours,
                      turnout_jump_share=cfg.turnout_jump_share,
                      turnout_jump_voters=cfg.turnout_jump_voters,
                      corroboration_window_minutes=cfg.corroboration_window_minutes)


def event_catalogue(cfg: Settings) -> Catalogue:
    """The catalogue in use (EVENT_SCHEMA_DIR pins another release's schemas)."""
    return Catalogue(Path(cfg.event_schema_dir)) if cfg.event_schema_dir else catalogue()


def build_projection(cfg: Settings, schema: str, topic: str,
                     feed: ChangeFeed | None) -> Projection:
    """A Projection into ``schema`` of ``topic``; live passes a notifying feed, replay none."""
    return Projection(schema, topic, event_catalogue(cfg), Calendars.load(), rule_config(cfg),
                      feed)
