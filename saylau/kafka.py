"""Kafka wiring: topics, producer and partitioning shared by ingest, projector and tools."""
from __future__ import annotations

import contextlib
import functools
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from tenacity import AsyncRetrying, stop_after_attempt, wait_fixed

from saylau.settings import Settings

log = logging.getLogger(__name__)

EVENTS_TOPIC_CONFIG = {
    "retention.ms": "-1",  # the event log is the system of record: never delete
    "retention.bytes": "-1",
    "cleanup.policy": "delete",  # compaction would drop superseded keys: never for the log
}


@functools.lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    """Kafka's default (murmur2) partition, computed here so ingest can chain per partition
    (cached: aiokafka's murmur2 is pure Python, and keys are stations and places)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


async def ensure_topics(settings: Settings, replication: int = 1, attempts: int = 60) -> None:
    """Create the events and dead-letter topics if missing (retrying while the broker boots)."""
    retrying = AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait_fixed(1),
                             reraise=True, before_sleep=lambda state: log.info(
                                 "waiting for Kafka at %s: %s", settings.kafka_bootstrap,
                                 state.outcome.exception()))
    await retrying(create_missing_topics, settings, replication)


async def create_missing_topics(settings: Settings, replication: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        topics = [NewTopic(settings.events_topic, settings.events_partitions, replication,
                           topic_configs=EVENTS_TOPIC_CONFIG),
                  NewTopic(settings.dead_letter_topic, 1, replication,
                           topic_configs=EVENTS_TOPIC_CONFIG)]
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def make_producer(settings: Settings, linger_ms: int = 5) -> AIOKafkaProducer:
    """Idempotent, acks=all: a 'sent' record is on every in-sync replica, exactly once.

    A 5 ms linger lets one request carry a whole HTTP batch per partition (fewer, larger
    produce requests) for a few ms of latency, far inside the POST→visible budget. Ingest
    sends a whole group commit before awaiting it, so it lingers 1 ms only (the records of
    a group are in the accumulator before the sender runs anyway).
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
        linger_ms=linger_ms, max_batch_size=1024 * 1024, compression_type=None,
        request_timeout_ms=10000, max_request_size=4 * 1024 * 1024)
