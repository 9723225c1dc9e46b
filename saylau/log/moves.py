"""Moving a centre to another Kafka cluster: copy the events log partition by partition so
every record keeps its partition, offset, key, headers, timestamp and chain, verify the chain
heads on both sides, (``saylau migrate-log --to BOOTSTRAP`` records the new topic's id with the read models and
ingest's dedup table). Run with ingest stopped; re-running resumes."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from saylau.log.identity import LogMismatch
from saylau.log.kafka import (
    TopicFacts,
    chain_hashes_at,
    describe_topic,
    end_offsets,
)

log = logging.getLogger("saylau.migrate")


@dataclass(frozen=True)
class Moved:
    topic: str
    old_id: str
    new_id: str
    copied: dict[int, int]
    """Per partition, records copied by this run."""
    ends: dict[int, int]


async def described(bootstrap: str, topic: str) -> TopicFacts:
    """The topic's facts, waiting while a just-created topic reaches every broker."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(LookupError), reraise=True,
                             stop=stop_after_delay(30), wait=wait_fixed(0.5))
    return await retrying(describe_topic, bootstrap, topic)


async def copy_topic(src: str, dst: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """Copy ``topic`` from cluster ``src`` to ``dst`` (created already), keeping offsets.

    A partition already partly copied resumes after its last record, once that record's
    chain hash is the same on both sides. Returns (copied per partition, end offsets)."""
    partitions = len((await describe_topic(src, topic)).partitions)
    if len((await described(dst, topic)).partitions) != partitions:
        raise LogMismatch(f"{topic} has {partitions} partitions on {src} but not on {dst}")
    src_ends = await end_offsets(src, topic, partitions)
    dst_ends = await end_offsets(dst, topic, partitions)
    starts = {p: o for p, o in dst_ends.items()}
    for p, start in starts.items():
        if start > src_ends[p]:
            raise LogMismatch(f"{topic} partition {p} on {dst} is longer ({start}) than on "
                              f"{src} ({src_ends[p]}): it holds another log")
    resumed = {p: o for p, o in starts.items() if o > 0}
    if resumed:
        theirs = await chain_hashes_at(dst, topic, resumed)
        ours = await chain_hashes_at(src, topic, resumed)
        for p, start in resumed.items():
            if theirs[p] != ours[p]:
                raise LogMismatch(f"{topic} partition {p} on {dst} differs from {src} at offset "
                                  f"{start - 1}: it holds another log")
    consumer = AIOKafkaConsumer(bootstrap_servers=src, enable_auto_commit=False,
                                auto_offset_reset="none", max_partition_fetch_bytes=4 << 20)
    producer = AIOKafkaProducer(bootstrap_servers=dst, acks="all", enable_idempotence=True,
                                linger_ms=5, max_batch_size=1 << 20,
                                max_request_size=4 << 20)
    copied = dict.fromkeys(range(partitions), 0)
    await consumer.start()
    await producer.start()
    try:
        for p in range(partitions):
            if starts[p] >= src_ends[p]:
                continue
            tp = TopicPartition(topic, p)
            consumer.assign([tp])
            consumer.seek(tp, starts[p])
            position = starts[p]
            while position < src_ends[p]:
                batch = (await consumer.getmany(tp, timeout_ms=10000)).get(tp, [])
                pending = []
                for r in batch:
                    if r.offset >= src_ends[p]:
                        break
                    pending.append((r.offset, await producer.send(
                        topic, r.value, key=r.key, partition=p, timestamp_ms=r.timestamp,
                        headers=list(r.headers or ()))))
                for offset, future in pending:
                    meta = await future
                    if meta.offset != offset:
                        raise LogMismatch(f"{topic} partition {p}: record {offset} landed at "
                                          f"offset {meta.offset} on {dst}; offsets would differ")
                    position = offset + 1
                copied[p] += len(pending)
            log.info("partition %d: copied up to offset %d", p, position)
    finally:
        await producer.stop()
        await consumer.stop()
    return copied, src_ends
