"""Rebuild the read models from the log into a fresh schema, with the live projection code.

The replay feeds the log through ``saylau.readmodels.transaction.Projection.apply``, the same object the live
projector runs, in large batches and without a change feed (the ``changes`` table is for
live push, not part of the audit). ``until`` gives the read models as of a past moment: only
events that *occurred* (``occurred_at``, the partner's clock) at or before it are applied,
whenever they were received.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import asyncpg
import orjson

from saylau.log.decode import Message
from saylau.log.kafka import chain_hashes_at, describe_topic
from saylau.readmodels import tracking
from saylau.readmodels.transaction import BatchResult, Projection, build_projection
from saylau.settings import Settings
from saylau.store.db import migrate
from saylau.store.ddl import READ, index_ddl, tables_of

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
NEVER_REPLACED = ("public", "ingest", "information_schema")
READ_BY_WRITES = frozenset({"events_station_time", "ix_breaches_rule_id", "stations_region",
                            "events_detentions_place"})
"""Secondary indexes the projection's own writes read through (turnout's standing counts by
station, its alerts by rule, the roll-ups' regions and rules, a detention surge's evidence by
place and time): created up front, or each batch would scan what was loaded before it. The
others are built after the load."""
BULK_SESSION = ("SET synchronous_commit = off", "SET maintenance_work_mem = '256MB'")
"""PostgreSQL's bulk-loading advice that is safe for a replay: a crash loses at most the
last transactions of a schema that is rebuilt anyway (each transaction stays atomic)."""
RETRIED = asyncpg.exceptions.TransactionRollbackError
"""Deadlock or serialization failure between two partitions' transactions: apply again."""


class Log(Protocol):
    topic: str
    bootstrap: str | None
    """The Kafka cluster the log is read from (None: an export file, no topic id)."""

    @property
    def position(self) -> dict[int, int]: ...

    def chunks(self, size: int) -> AsyncIterator[list[Message]]: ...


class RefusedSchema(Exception):
    """The target schema is not one replay may create or replace."""


@dataclass
class ReplayStats:
    schema: str
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    dead: int = 0
    after_until: int = 0
    seconds: float = 0.0
    position: dict[int, int] = field(default_factory=dict)
    """The log position the replay reached: the next offset of every partition."""

    @property
    def rate(self) -> float:
        """Log records processed per second."""
        return self.read / self.seconds if self.seconds else 0.0


def replay_projection(schema: str, topic: str, cfg: Settings) -> Projection:
    """A ``Projection`` like the live one, writing ``schema`` and publishing no change feed."""
    return build_projection(cfg, schema, topic, feed=None)


def deferred_indexes() -> frozenset[str]:
    """Read-model indexes a replay builds after loading the log (``build_indexes``)."""
    return frozenset(str(ix.name) for t in tables_of(READ) for ix in t.indexes) - READ_BY_WRITES


async def build_indexes(conn: asyncpg.Connection, schema: str) -> None:
    """Create the indexes ``prepare_schema(..., defer_indexes=True)`` left out; ANALYZE the
    schema's tables (planner statistics for the api's queries)."""
    deferred = deferred_indexes()
    await conn.execute(f'SET search_path TO "{schema}"')
    try:
        for t in tables_of(READ):
            for statement in index_ddl(t, deferred.__contains__):
                await conn.execute(statement)
            await conn.execute(f'ANALYZE "{schema}"."{t.name}"')
    finally:
        await conn.execute("SET search_path TO DEFAULT")


async def prepare_schema(conn: asyncpg.Connection, schema: str, cfg: Settings,
                         force: bool, defer_indexes: bool = False) -> bool:
    """Create ``schema`` empty; replace an old ``replay_*`` schema; others only with force.

    ``defer_indexes``: leave out the secondary indexes no projection write needs (the
    caller builds them with ``build_indexes`` after the load). Returns whether an existing
    schema was dropped.
    """
    live = cfg.read_schema
    if (not SCHEMA_NAME.match(schema) or schema in (*NEVER_REPLACED, cfg.ingest_schema)
            or schema.startswith("pg_")):
        raise RefusedSchema(f"{schema!r} is not a schema name replay may use")
    exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
    if exists and not schema.startswith("replay_") and not force:
        what = "the live read models" if schema == live else "not a replay_ schema"
        raise RefusedSchema(f"schema {schema!r} exists ({what}); pass --force to replace it")
    if exists:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await migrate(conn, schema,
                  deferred_indexes=deferred_indexes() if defer_indexes else frozenset())
    return bool(exists)


async def bulk_session(conn: asyncpg.Connection) -> None:
    """Session settings for loading a replay schema (``BULK_SESSION``)."""
    for statement in BULK_SESSION:
        await conn.execute(statement)


async def replay(conn: asyncpg.Connection, log: Log, projection: Projection, batch: int,
                 until: datetime | None = None,
                 on_progress: Callable[[int], None] = lambda n: None,
                 more: Sequence[asyncpg.Connection] = ()) -> ReplayStats:
    """Apply every record of ``log`` (occurred by ``until``, if given) to ``projection``.

    With ``more`` connections, partitions are applied in parallel: partition ``p`` always
    goes to connection ``p % (1 + len(more))``, in log order, so each partition's records
    are applied in order as live does; different partitions' transactions overlap (as with
    several live workers), and one that deadlocks with another is applied again.
    """
    stats, started = ReplayStats(projection.schema), time.perf_counter()
    conns = [conn, *more]
    queues: list[asyncio.Queue[list[Message] | None]] = [asyncio.Queue(maxsize=2)
                                                         for _ in conns]

    async def work(c: asyncpg.Connection, queue: asyncio.Queue[list[Message] | None]) -> None:
        while (kept := await queue.get()) is not None:
            result = await apply_again_on_conflict(projection, c, kept)
            stats.applied += result.applied
            stats.duplicates += result.duplicates
            stats.dead += len(result.dead)

    async def read() -> None:
        try:
            async for chunk in log.chunks(batch):
                stats.read += len(chunk)
                kept = chunk if until is None else [m for m in chunk if occurred_by(m, until)]
                stats.after_until += len(chunk) - len(kept)
                if kept:
                    await queues[kept[0].partition % len(conns)].put(kept)
                on_progress(len(chunk))
        finally:
            for queue in queues:
                await queue.put(None)

    workers = [asyncio.create_task(work(c, q)) for c, q in zip(conns, queues, strict=True)]
    reader = asyncio.create_task(read())
    try:
        await asyncio.gather(reader, *workers)
    finally:
        for task in (reader, *workers):
            task.cancel()
    stats.position = log.position
    await record_position(conn, projection.schema, log.topic, stats.position, until,
                          log.bootstrap)
    stats.seconds = time.perf_counter() - started
    return stats


async def record_position(conn: asyncpg.Connection, schema: str, topic: str,
                          position: dict[int, int], until: datetime | None = None,
                          bootstrap: str | None = None) -> None:
    """Store how far a replay read (its ``projector_offsets``, as the live projector does),
    with the log's identity when read from Kafka at ``bootstrap`` (the topic's id and the
    chain hash at each ``position - 1``: a rebuilt schema switched into service is checked
    like the live one), and, for an as-of replay, its ``until`` as the schema's comment."""
    topic_id, heads = (await log_identity(bootstrap, topic, position) if bootstrap
                       else (None, None))
    await tracking.record_position(conn, schema, topic, position, topic_id, heads)
    if until is not None:
        await conn.execute(f'COMMENT ON SCHEMA "{schema}" IS '
                           f"'saylau replay as of {until.isoformat()}'")


async def log_identity(bootstrap: str, topic: str,
                       position: dict[int, int]) -> tuple[str, dict[int, str | None]]:
    """The topic's id and, per partition, the chain hash of the record at ``position - 1``."""
    facts = await describe_topic(bootstrap, topic)
    heads = await chain_hashes_at(bootstrap, topic, position)
    return facts.topic_id, {p: heads.get(p) for p in position}


async def as_of(conn: asyncpg.Connection, schema: str) -> str | None:
    """The ``--until`` of an as-of replay schema (None for a full replay)."""
    comment = await conn.fetchval("SELECT obj_description(oid, 'pg_namespace') FROM "
                                  "pg_namespace WHERE nspname = $1", schema)
    prefix = "saylau replay as of "
    return comment.removeprefix(prefix) if comment and comment.startswith(prefix) else None


async def apply_again_on_conflict(projection: Projection, conn: asyncpg.Connection,
                                  chunk: list[Message], attempts: int = 10) -> BatchResult:
    """``projection.apply``, again after a deadlock with another partition's transaction
    (the stored offsets make a second attempt exactly-once)."""
    decoded = projection.decode(chunk)
    for attempt in range(attempts):
        try:
            return await projection.apply(conn, chunk, decoded)
        except RETRIED:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def occurred_by(message: Message, until: datetime) -> bool:
    """Whether the record's ``occurred_at`` is at or before ``until``.

    A record whose time cannot be read is kept, so the projection dead-letters it as live does.
    """
    try:
        occurred = datetime.fromisoformat(orjson.loads(message.value)["occurred_at"])
        return occurred.tzinfo is None or occurred <= until
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return True
