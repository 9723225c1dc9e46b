"""Delivery bookkeeping of the projector: the Kafka offsets each batch consumed, and the dead
letters (records it could not apply). Written in the batch transaction with the read models;
not a projection of the log, so never compared by an audit."""
from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, Text

from saylau.ddl import READ, table
from saylau.decode import Message
from saylau.readmodels.base import ReadModel

projector_offsets = table(
    "projector_offsets", READ,
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "kafka_partition"),
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

READ_MODEL = ReadModel("tracking", (projector_offsets, dead_letters), audited=False)


def next_offsets(batch: Sequence[Message]) -> dict[int, int]:
    """Per partition, the offset after the last message of ``batch``."""
    nexts: dict[int, int] = {}
    for m in batch:
        nexts[m.partition] = max(nexts.get(m.partition, 0), m.offset + 1)
    return nexts


async def lock_offsets(conn: asyncpg.Connection, topic: str,
                       partitions: list[int]) -> dict[int, int]:
    """Stored next offsets of ``partitions``, row-locked so two workers never overlap."""
    await conn.execute(
        "INSERT INTO projector_offsets (topic, kafka_partition, next_offset) "
        "SELECT $1, p, 0 FROM unnest($2::int[]) AS p ON CONFLICT DO NOTHING", topic, partitions)
    rows = await conn.fetch(
        "SELECT kafka_partition, next_offset FROM projector_offsets "
        "WHERE topic = $1 AND kafka_partition = ANY($2::int[]) FOR UPDATE", topic, partitions)
    return {r["kafka_partition"]: r["next_offset"] for r in rows}


async def save_offsets(conn: asyncpg.Connection, topic: str, nexts: dict[int, int]) -> None:
    await conn.execute(
        "UPDATE projector_offsets o SET next_offset = GREATEST(o.next_offset, n.next) "
        "FROM unnest($2::int[], $3::bigint[]) AS n(p, next) "
        "WHERE o.topic = $1 AND o.kafka_partition = n.p",
        topic, list(nexts), list(nexts.values()))


async def insert_dead_letters(conn: asyncpg.Connection, topic: str,
                              dead: list[tuple[Message, str]]) -> None:
    if dead:
        await conn.executemany(
            "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason, raw, status) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [(topic, m.partition, m.offset, reason,
              m.value.decode("utf-8", "backslashreplace"), DEAD) for m, reason in dead])


POSITION_SQL = """
INSERT INTO "{schema}".projector_offsets (topic, kafka_partition, next_offset)
SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS t(p, o)
ON CONFLICT (topic, kafka_partition) DO UPDATE
SET next_offset = GREATEST(projector_offsets.next_offset, EXCLUDED.next_offset)"""


async def record_position(conn: asyncpg.Connection, schema: str, topic: str,
                          position: dict[int, int]) -> None:
    """Store that ``schema`` holds the projection of ``topic`` up to ``position`` (the next
    offset of each partition), as the live projector does batch by batch; never backwards."""
    await conn.execute(POSITION_SQL.format(schema=schema), topic, list(position),
                       list(position.values()))


async def stored_positions(conn: asyncpg.Connection, schema: str,
                           topic: str | None = None) -> dict[str, dict[int, int]]:
    """The stored next offset of every partition, per topic, of a read-model schema."""
    rows = await conn.fetch(f'SELECT topic, kafka_partition, next_offset FROM "{schema}".'
                            "projector_offsets WHERE $1::text IS NULL OR topic = $1", topic)
    found: dict[str, dict[int, int]] = {}
    for r in rows:
        found.setdefault(r["topic"], {})[r["kafka_partition"]] = r["next_offset"]
    return found
