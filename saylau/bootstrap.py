"""Wiring for every entrypoint: one ``bootstrap(settings, needs)`` builds the pool, the Kafka
producer, the projection and the intake service an entrypoint asks for. Nothing is built
at import time; ingest, api, projector, webhook worker and ``saylau replay`` all come here."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
import asyncpg
from aiokafka import AIOKafkaProducer

from saylau.catalogue import catalogue
from saylau.domain.observers import ObserverGrant
from saylau.evidence import EvidenceStorage, evidence_storage
from saylau.intake.ingest_tables import claim_log
from saylau.intake.log import ChainedLog
from saylau.intake.service import Intake
from saylau.log.identity import LogMismatch
from saylau.log.kafka import ensure_topics, log_facts, make_producer
from saylau.log.watch import LogWatch
from saylau.privacy.store import PostgresKeyStore, key_store
from saylau.readmodels import observers as observer_reads
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection, build_projection
from saylau.settings import Settings
from saylau.store.db import connect_pool, migrate
from saylau.store.migrations import check, upgrade
from saylau.web.keys import KeyRing, ObserverTokens, parse_env_keys
from saylau.web.observers import observer_of

log = logging.getLogger("saylau.bootstrap")


@dataclass(frozen=True)
class Needs:
    """What one entrypoint needs built: the pool's size and search path, the producer (and
    the topics), the intake service, the personal-data keys (the intake always has them),
    the live projection, the evidence store."""

    search_path: str | None = None
    pool_size: int = 10
    command_timeout: float = 30
    session_reset: bool = True
    producer: bool = False
    intake: bool = False
    keys: bool = False
    projection: bool = False
    evidence: bool = False


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
    evidence: EvidenceStorage | None = None

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        await self.pool.close()


async def bootstrap(cfg: Settings, needs: Needs) -> Wiring:
    """Migrate (or check) the ingest schema, open the pool, create the read-model tables;
    then the producer, intake and projection as needed."""
    await migrate_ingest(cfg)
    pool = await connect_pool(cfg.dsn, max_size=needs.pool_size, search_path=needs.search_path,
                              command_timeout=needs.command_timeout,
                              session_reset=needs.session_reset)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, cfg.read_schema)
        wired = Wiring(cfg, pool, KeyRing(parse_env_keys(cfg.saylau_api_keys), pool,
                                          cfg.ingest_schema))
        wired.keyring.observers = observer_tokens(wired)
        if needs.keys or needs.intake:
            wired.keys = await key_store(pool, cfg)  # no or wrong master key: fails here
        if needs.producer or needs.intake:
            wired.producer = await start_producer(cfg, topics=needs.intake,
                                                  linger_ms=1 if needs.intake else 5)
        if needs.intake and wired.producer is not None and wired.keys is not None:
            wired.intake = await build_intake(cfg, wired.producer, pool, wired.keys)
        if needs.evidence:  # once: a boto3 client takes about a second to build
            wired.evidence = await anyio.to_thread.run_sync(evidence_storage, cfg)
    except BaseException:
        await pool.close()
        raise
    if needs.projection:
        wired.projection = build_projection(cfg, cfg.read_schema, cfg.events_topic,
                                            ChangeFeed(notify=True))
    return wired


def observer_tokens(wired: Wiring) -> ObserverTokens:
    """What an observer's token stands for now: her accreditation, stations and status as
    the read models have them (an accreditation no longer on record counts as revoked; the
    revocation's reason opened with the data keys, when this service holds them)."""
    cfg, pool = wired.settings, wired.pool

    async def grant_of(token_hash: str) -> ObserverGrant | None:
        observer_id = await observer_of(pool, cfg.ingest_schema, token_hash)
        if observer_id is None:
            return None
        return await observer_reads.grant(pool, cfg.read_schema, observer_id,
                                          wired.keys) or ObserverGrant(
            observer_id, None, frozenset(), revoked="no accreditation on record")

    return grant_of


async def migrate_ingest(cfg: Settings) -> None:
    """Upgrade the ingest schema to this release's migrations (``MIGRATE_ON_START``, the
    default) or only check it is there; either way refuse a schema a newer release migrated
    (``SchemaTooNew``), and with checking only, one that needs ``saylau migrate``."""
    if cfg.migrate_on_start:
        await upgrade(cfg.dsn, cfg.ingest_schema)
    else:
        await check(cfg.dsn, cfg.ingest_schema)


async def start_producer(cfg: Settings, topics: bool = False,
                         linger_ms: int = 5) -> AIOKafkaProducer:
    """The idempotent producer, started (after creating the topics when ``topics``)."""
    if topics:
        await ensure_topics(cfg)
    producer = make_producer(cfg, linger_ms)
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
    watch = LogWatch(cfg.kafka_bootstrap, cfg.events_topic, "ingest", topic_id)
    return Intake(ChainedLog(producer, cfg.events_topic, partitions), pool, catalogue(), keys,
                  watch, cfg.read_schema)
