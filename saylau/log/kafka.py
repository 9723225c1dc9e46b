"""Kafka wiring: topics, producer and partitioning shared by ingest, projector and tools."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import struct
import uuid
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_fixed

from saylau.settings import Settings

log = logging.getLogger(__name__)

EVENTS_TOPIC_CONFIG = {
    "retention.ms": "-1",  # the event log is the system of record: never delete
    "retention.bytes": "-1",
    "cleanup.policy": "delete",  # compaction would drop superseded keys: never for the log
}


class TopicReplicationError(RuntimeError):
    """An existing topic is replicated less than the settings ask: refuse to run on it."""


@functools.lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    """Kafka's default (murmur2) partition, computed here so ingest can chain per partition
    (cached: aiokafka's murmur2 is pure Python, and keys are stations and places)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def replication_for(settings: Settings, brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) the topics must have on ``brokers`` nodes."""
    rf = settings.kafka_replication or min(3, max(brokers, 1))
    min_isr = settings.kafka_min_isr or (2 if rf >= 3 else 1)
    return rf, min_isr


def replication_problem(topic: str, rf: int, min_isr: int,
                        want_rf: int, want_min_isr: int) -> str | None:
    """Why an existing topic may not be used (None when it is replicated enough)."""
    if rf >= want_rf and min_isr >= want_min_isr:
        return None
    return (f"topic {topic} has replication factor {rf} and min.insync.replicas {min_isr}; "
            f"expected at least replication factor {want_rf} and min.insync.replicas "
            f"{want_min_isr} (KAFKA_REPLICATION / KAFKA_MIN_ISR): recreate or reassign it "
            f"(kafka-reassign-partitions, kafka-configs --alter) before starting")


async def _check_topic(admin: AIOKafkaAdminClient, settings: Settings, topic: str,
                       want_rf: int, want_min_isr: int) -> None:
    facts = await describe_topic(settings.kafka_bootstrap, topic)
    rf = min((len(p.replicas) for p in facts.partitions), default=0)
    configs = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})])
    entries = {e[0]: e[1] for r in configs for res in r.resources for e in res[4]}
    min_isr = int(entries.get("min.insync.replicas") or 1)
    problem = replication_problem(topic, rf, min_isr, want_rf, want_min_isr)
    if problem:
        raise TopicReplicationError(problem)


async def ensure_topics(settings: Settings, attempts: int = 60) -> None:
    """Create the events and dead-letter topics if missing (retrying while the broker boots),
    replicated as the settings say, and refuse existing ones that are replicated less."""
    retrying = AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait_fixed(1),
                             retry=retry_if_not_exception_type(TopicReplicationError),
                             reraise=True, before_sleep=lambda state: log.info(
                                 "waiting for Kafka at %s: %s", settings.kafka_bootstrap,
                                 state.outcome.exception()))
    await retrying(create_missing_topics, settings)


async def create_missing_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        brokers = len((await admin.describe_cluster())["brokers"])
        rf, min_isr = replication_for(settings, brokers)
        config = {**EVENTS_TOPIC_CONFIG, "min.insync.replicas": str(min_isr)}
        topics = [NewTopic(settings.events_topic, settings.events_partitions, rf,
                           topic_configs=config),
                  NewTopic(settings.dead_letter_topic, 1, rf, topic_configs=config)]
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        for t in topics:
            if t.name in existing:
                await _check_topic(admin, settings, t.name, rf, min_isr)
    finally:
        await admin.close()


def make_producer(settings: Settings, linger_ms: int = 5) -> AIOKafkaProducer:
    """Idempotent, acks=all: a 'sent' record is on every in-sync replica, exactly once.

    With the topic's min.insync.replicas (2 of 3 on a cluster) the broker refuses a write
    that fewer replicas hold, so a 202 never rests on a single broker's disk.
    A 5 ms linger lets one request carry a whole HTTP batch per partition (fewer, larger
    produce requests) for a few ms of latency, far inside the POST→visible budget. Ingest
    hands a group commit over as closed record batches (``saylau.intake.log``), which the
    sender takes at once, whatever the linger.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
        linger_ms=linger_ms, max_batch_size=1024 * 1024, compression_type=None,
        request_timeout_ms=10000, max_request_size=4 * 1024 * 1024)


# --- log facts: topic id, partition leaders and end offsets ------------------------------

@dataclass(frozen=True)
class PartitionFacts:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class TopicFacts:
    """What the cluster says about one topic (Metadata v10: the topic id is in it)."""

    topic: str
    topic_id: str
    partitions: tuple[PartitionFacts, ...]
    brokers: dict[int, str]


class _Reader:
    """Kafka's flexible-version encoding (compact strings/arrays, tagged fields)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def string(self) -> str | None:
        n = self.uvarint() - 1
        if n < 0:
            return None
        text = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return text

    def array_len(self) -> int:
        return self.uvarint() - 1

    def int32s(self) -> tuple[int, ...]:
        return tuple(self.take(">i") for _ in range(max(self.array_len(), 0)))

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def _metadata_v10_request(topic: str, correlation: int) -> bytes:
    client = b"saylau"
    name = topic.encode()
    header = struct.pack(">hhih", 3, 10, correlation, len(client)) + client + b"\x00"
    body = (b"\x02" + b"\x00" * 16 + bytes([len(name) + 1]) + name + b"\x00"  # 1 topic
            + b"\x00\x00\x00" + b"\x00")  # no auto-create, no authorized ops, no tags
    req = header + body
    return struct.pack(">i", len(req)) + req


def _parse_metadata_v10(resp: bytes, correlation: int, topic: str) -> TopicFacts:
    r = _Reader(resp)
    if r.take(">i") != correlation:
        raise ValueError("unexpected correlation id in the Metadata response")
    r.skip_tags()
    r.take(">i")  # throttle
    brokers = {}
    for _ in range(r.array_len()):
        node, host, port = r.take(">i"), r.string(), r.take(">i")
        r.string()  # rack
        r.skip_tags()
        brokers[node] = f"{host}:{port}"
    r.string()  # cluster id
    r.take(">i")  # controller
    for _ in range(r.array_len()):
        error, name = r.take(">h"), r.string()
        topic_id = uuid.UUID(bytes=r.data[r.pos:r.pos + 16])
        r.pos += 16
        r.take(">b")  # is_internal
        parts = []
        for _ in range(r.array_len()):
            r.take(">h")
            index, leader = r.take(">i"), r.take(">i")
            r.take(">i")  # leader epoch
            replicas, isr = r.int32s(), r.int32s()
            r.int32s()  # offline replicas
            r.skip_tags()
            parts.append(PartitionFacts(index, leader, replicas, isr))
        r.take(">i")  # topic authorized operations
        r.skip_tags()
        if name == topic:
            if error in NOT_READY_CODES:
                raise TopicNotReady(f"topic {topic}: Kafka error code {error} (not known to "
                                    "this broker yet)")
            if error:
                raise LookupError(f"topic {topic}: Kafka error code {error}")
            return TopicFacts(topic, str(topic_id), tuple(sorted(parts, key=lambda p: p.partition)),
                              brokers)
    raise LookupError(f"topic {topic} not in the Metadata response")


class TopicNotReady(LookupError):
    """The broker asked does not know the topic (yet): metadata of a topic created a moment
    ago reaches the other brokers of a cluster a little later."""


NOT_READY_CODES = frozenset({3, 5})
"""UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE: asked again until ``settle`` passes."""


async def describe_topic(bootstrap: str, topic: str, timeout: float = 10.0,
                         settle: float = 15.0) -> TopicFacts:
    """The topic's id, partitions, leaders and in-sync replicas, from the first broker that answers.

    aiokafka's admin speaks Metadata up to v5, which has no topic ids (added in v10, Kafka 2.8),
    so this sends one Metadata v10 request itself. A topic a broker does not know yet is asked
    for again for up to ``settle`` seconds (a fresh topic's metadata spreads over a cluster).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while True:
        try:
            return await _describe_once(bootstrap, topic, timeout)
        except TopicNotReady:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.25)


async def _describe_once(bootstrap: str, topic: str, timeout: float) -> TopicFacts:
    errors = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)),
                                                    timeout)
        except (TimeoutError, OSError) as exc:
            errors.append(f"{address}: {exc!r}")
            continue
        try:
            writer.write(_metadata_v10_request(topic, 2028))
            await writer.drain()
            size = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), timeout))[0]
            resp = await asyncio.wait_for(reader.readexactly(size), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            errors.append(f"{address}: {exc!r}")
            continue
        finally:
            writer.close()
        return _parse_metadata_v10(resp, 2028, topic)
    raise ConnectionError(f"no broker of {bootstrap} answered: {'; '.join(errors)}")


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """Each partition's end offset (the offset the next record will get)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def log_facts(bootstrap: str, topic: str) -> tuple[str, dict[int, int]]:
    """(topic id, end offset per partition) of the log a projector or ingest is about to use."""
    facts = await describe_topic(bootstrap, topic)
    return facts.topic_id, await end_offsets(bootstrap, topic, len(facts.partitions))


def chain_hash_of(value: bytes | None) -> str | None:
    """The chain hash a stored record carries (None for a record without a chain link)."""
    try:
        chain = orjson.loads(value or b"").get("chain")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(chain["hash"]) if isinstance(chain, dict) and chain.get("hash") else None


class ChainUnreadable(TimeoutError):
    """A record the log holds was not read in time: no verdict on the chain (retry)."""


async def chain_hashes_at(bootstrap: str, topic: str, next_offsets: dict[int, int],
                          timeout: float = 10.0) -> dict[int, str | None]:
    """Per partition, the chain hash of the record at ``next_offset - 1`` (the last one the
    stored state applied): what ``saylau.log.identity`` compares with the stored chain head.
    None where that record does not exist (offset beyond the end) or carries no chain.
    Raises ChainUnreadable when a record below the end did not arrive within ``timeout``:
    a slow broker is not a different log."""
    wanted = {p: o - 1 for p, o in next_offsets.items() if o > 0}
    found: dict[int, str | None] = dict.fromkeys(wanted)
    if not wanted:
        return found
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="none")
    await consumer.start()
    try:
        tps = {p: TopicPartition(topic, p) for p in wanted}
        consumer.assign(list(tps.values()))
        ends = await consumer.end_offsets(list(tps.values()))
        for p, offset in wanted.items():
            if offset >= ends[tps[p]]:
                continue
            consumer.seek(tps[p], offset)
            batch = await consumer.getmany(tps[p], timeout_ms=int(timeout * 1000), max_records=1)
            records = batch.get(tps[p], [])
            if not records:
                raise ChainUnreadable(f"{topic} partition {p}: the record at offset {offset} "
                                      f"was not read within {timeout} s")
            if records[0].offset == offset:
                found[p] = chain_hash_of(records[0].value)
    finally:
        await consumer.stop()
    return found
