"""Topics against the real broker: created replicated as the settings say, refused when an
existing one is replicated less, and the log facts (topic id, end offsets) ingest and the
projector will check their stored identity against (issue 20)."""
from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from saylau.kafka import TopicReplicationError, describe_topic, ensure_topics, log_facts
from saylau.settings import Settings


def settings(name: str, **extra: object) -> Settings:
    return Settings(kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
                    events_topic=f"{name}.events", dead_letter_topic=f"{name}.dlq",
                    events_partitions=3, **extra)  # type: ignore[arg-type]


async def drop(cfg: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([cfg.events_topic, cfg.dead_letter_topic])
    finally:
        await admin.close()


def test_topic_id_end_offsets_and_refusal_of_a_less_replicated_topic() -> None:
    cfg = settings("t" + uuid.uuid4().hex[:10])

    async def run() -> None:
        try:
            await ensure_topics(cfg)
            facts = await describe_topic(cfg.kafka_bootstrap, cfg.events_topic)
            assert uuid.UUID(facts.topic_id) and len(facts.partitions) == 3
            brokers = len(facts.brokers)
            assert {len(p.replicas) for p in facts.partitions} == {min(3, brokers)}
            producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap)
            await producer.start()
            try:
                for _ in range(4):
                    await producer.send_and_wait(cfg.events_topic, b"x", partition=1)
            finally:
                await producer.stop()
            topic_id, ends = await log_facts(cfg.kafka_bootstrap, cfg.events_topic)
            assert topic_id == facts.topic_id and ends == {0: 0, 1: 4, 2: 0}
            await ensure_topics(cfg)  # idempotent on a topic replicated as asked
            with pytest.raises(TopicReplicationError) as refused:
                await ensure_topics(settings(cfg.events_topic[:-7], kafka_replication=brokers,
                                             kafka_min_isr=brokers + 1))
            assert str(refused.value).startswith(
                f"topic {cfg.events_topic} has replication factor {min(3, brokers)} and "
                f"min.insync.replicas {2 if brokers >= 3 else 1}; expected at least "
                f"replication factor {brokers} and min.insync.replicas {brokers + 1}")
        finally:
            await drop(cfg)

    asyncio.run(run())
