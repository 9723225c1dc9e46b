"""Delivery bookkeeping of the projector: the Kafka offsets each batch consumed, which log they
came from (the topic id and, per partition, the chain hash of the last record applied), and the
dead letters (records it could not apply). Written in the batch transaction with the read
models; not a projection of the log, so never compared by an audit. ``log_status`` is the
projector's last verdict on the log it reads (``saylau.log.identity``), which the api's
/readyz reports too."""
from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, PrimaryKeyConstraint, Text

from saylau.log.decode import Message
from saylau.log.identity import StoredIdentity
from saylau.log.kafka import chain_hash_of
from saylau.readmodels.base import ReadModel
from saylau.store.ddl import READ, table

projector_offsets = table(
    "projector_offsets", READ,
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("topic_id", Text),
    Column("chain_head", Text),
    PrimaryKeyConstraint("topic", "kafka_partition"),
    after=("ALTER TABLE projector_offsets ADD COLUMN IF NOT EXISTS topic_id text",
           "ALTER TABLE projector_offsets ADD COLUMN IF NOT EXISTS chain_head text"),
)
"""``topic_id``: the Kafka id of the topic the offsets are positions in; ``chain_head``: the
chain hash of the record at ``next_offset - 1`` (None when it carries none)."""

log_status = table(
    "log_status", READ,
    Column("topic", Text, primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

dead_letters = table(
    "dead_letters", READ,
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("topic", "kafka_partition", "kafka_offset"),
)
DEAD = "dead"

READ_MODEL = ReadModel("tracking", (projector_offsets, dead_letters, log_status), audited=False)


def next_offsets(batch: Sequence[Message]) -> dict[int, int]:
    """Per partition, the offset after the last message of ``batch``."""
    nexts: dict[int, int] = {}
    for m in batch:
        nexts[m.partition] = max(nexts.get(m.partition, 0), m.offset + 1)
    return nexts


def chain_heads(batch: Sequence[Message]) -> dict[int, str | None]:
    """Per partition, the chain hash of the last message of ``batch``."""
    last: dict[int, Message] = {}
    for m in batch:
        if m.partition not in last or m.offset > last[m.partition].offset:
            last[m.partition] = m
    return {p: chain_hash_of(m.value) for p, m in last.items()}


async def lock_offsets(conn: asyncpg.Connection, topic: str,
                       partitions: list[int]) -> dict[int, int]:
    """Stored next offsets of ``partitions`` (sorted), row-locked so two workers never
    overlap: one statement, which creates a partition's row the first time (at 0), and
    otherwise locks it as ``FOR UPDATE`` would, returning its latest committed offset."""
    rows = await conn.fetch(
        "INSERT INTO projector_offsets AS o (topic, kafka_partition, next_offset) "
        "SELECT $1, p, 0 FROM unnest($2::int[]) AS p ON CONFLICT (topic, kafka_partition) "
        "DO UPDATE SET next_offset = o.next_offset RETURNING kafka_partition, next_offset",
        topic, partitions)
    return {r["kafka_partition"]: r["next_offset"] for r in rows}


async def save_offsets(conn: asyncpg.Connection, topic: str, nexts: dict[int, int],
                       heads: dict[int, str | None] | None = None,
                       topic_id: str | None = None) -> None:
    """Move the offsets forward, with the chain head at each and the topic's id (if known)."""
    heads = heads or {}
    await conn.execute(
        "UPDATE projector_offsets o SET next_offset = GREATEST(o.next_offset, n.next), "
        "chain_head = CASE WHEN n.next >= o.next_offset THEN n.head ELSE o.chain_head END, "
        "topic_id = COALESCE($5, o.topic_id) "
        "FROM unnest($2::int[], $3::bigint[], $4::text[]) AS n(p, next, head) "
        "WHERE o.topic = $1 AND o.kafka_partition = n.p",
        topic, list(nexts), list(nexts.values()), [heads.get(p) for p in nexts], topic_id)


async def stored_identity(conn: asyncpg.Connection, schema: str,
                          topic: str) -> StoredIdentity | None:
    """What the read models of ``schema`` recorded about the log (None: nothing applied yet)."""
    rows = await conn.fetch(
        f'SELECT kafka_partition, next_offset, topic_id, chain_head FROM "{schema}".'
        "projector_offsets WHERE topic = $1", topic)
    if not any(r["next_offset"] for r in rows):
        return None
    ids = sorted({r["topic_id"] for r in rows if r["topic_id"]})
    return StoredIdentity(topic, ids[0] if ids else None,
                          {r["kafka_partition"]: r["next_offset"] for r in rows},
                          {r["kafka_partition"]: r["chain_head"] for r in rows
                           if r["chain_head"]})


async def record_topic_id(conn: asyncpg.Connection, schema: str, topic: str,
                          topic_id: str) -> None:
    """Say the stored offsets are positions in the topic ``topic_id`` (after a verified move)."""
    await conn.execute(f'UPDATE "{schema}".projector_offsets SET topic_id = $2 WHERE topic = $1',
                       topic, topic_id)


async def write_status(conn: asyncpg.Connection, schema: str, topic: str, ok: bool,
                       reason: str) -> None:
    """The projector's verdict on the log, for its own and the api's /readyz."""
    await conn.execute(
        f'INSERT INTO "{schema}".log_status (topic, ok, reason, checked_at) '
        "VALUES ($1, $2, $3, now()) ON CONFLICT (topic) DO UPDATE SET ok = EXCLUDED.ok, "
        "reason = EXCLUDED.reason, checked_at = EXCLUDED.checked_at", topic, ok, reason)


async def recorded_topic_id(pool: asyncpg.Pool, schema: str, topic: str) -> str | None:
    """The id of the topic the read models' offsets are positions in (None: not known yet)."""
    return await pool.fetchval(f'SELECT max(topic_id) FROM "{schema}".projector_offsets '
                               "WHERE topic = $1", topic)


async def log_problem(conn: asyncpg.Connection, schema: str) -> str | None:
    """The projector's last refusal of the log it reads (None when it accepted it)."""
    return await conn.fetchval(
        f'SELECT string_agg(reason, \'; \') FROM "{schema}".log_status WHERE NOT ok')


async def insert_dead_letters(conn: asyncpg.Connection, topic: str,
                              dead: list[tuple[Message, str]]) -> None:
    if dead:
        await conn.executemany(
            "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason, raw, status) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [(topic, m.partition, m.offset, reason,
              m.value.decode("utf-8", "backslashreplace"), DEAD) for m, reason in dead])


POSITION_SQL = """
INSERT INTO "{schema}".projector_offsets AS o (topic, kafka_partition, next_offset, topic_id,
                                            chain_head)
SELECT $1, p, n, $4, h FROM unnest($2::int[], $3::bigint[], $5::text[]) AS t(p, n, h)
ON CONFLICT (topic, kafka_partition) DO UPDATE
SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset),
    chain_head = CASE WHEN $6 AND EXCLUDED.next_offset >= o.next_offset
                      THEN EXCLUDED.chain_head ELSE o.chain_head END,
    topic_id = COALESCE(EXCLUDED.topic_id, o.topic_id)"""


async def record_position(conn: asyncpg.Connection, schema: str, topic: str,
                          position: dict[int, int], topic_id: str | None = None,
                          heads: dict[int, str | None] | None = None) -> None:
    """Store that ``schema`` holds the projection of ``topic`` up to ``position`` (the next
    offset of each partition), as the live projector does batch by batch; never backwards.
    ``topic_id`` and ``heads`` (the chain hash at each ``position - 1``), when known, are the
    log's identity the live projector checks before it serves the schema."""
    known = heads is not None
    heads = heads or {}
    await conn.execute(POSITION_SQL.format(schema=schema), topic, list(position),
                       list(position.values()), topic_id, [heads.get(p) for p in position],
                       known)


async def stored_positions(conn: asyncpg.Connection, schema: str,
                           topic: str | None = None) -> dict[str, dict[int, int]]:
    """The stored next offset of every partition, per topic, of a read-model schema."""
    rows = await conn.fetch(f'SELECT topic, kafka_partition, next_offset FROM "{schema}".'
                            "projector_offsets WHERE $1::text IS NULL OR topic = $1", topic)
    found: dict[str, dict[int, int]] = {}
    for r in rows:
        found.setdefault(r["topic"], {})[r["kafka_partition"]] = r["next_offset"]
    return found
