"""Rebuild the read models from the log into a fresh schema, with the live projection code.

The replay feeds the log through ``saylau.readmodels.transaction.Projection.apply``, the same object the live
projector runs, in large batches and without a change feed (the ``changes`` table is for
live push, not part of the audit). ``until`` gives the read models as of a past moment: only
events that *occurred* (``occurred_at``, the partner's clock) at or before it are applied,
whenever they were received.
"""
from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import asyncpg
import orjson

from saylau.bootstrap import build_projection
from saylau.db import migrate
from saylau.decode import Message
from saylau.readmodels import tracking
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
NEVER_REPLACED = ("public", "ingest", "information_schema")


class Log(Protocol):
    topic: str

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


async def prepare_schema(conn: asyncpg.Connection, schema: str, cfg: Settings,
                         force: bool) -> bool:
    """Create ``schema`` empty; replace an old ``replay_*`` schema; others only with force.

    Returns whether an existing schema was dropped.
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
    await migrate(conn, schema)
    return bool(exists)


async def replay(conn: asyncpg.Connection, log: Log, projection: Projection, batch: int,
                 until: datetime | None = None,
                 on_progress: Callable[[int], None] = lambda n: None) -> ReplayStats:
    """Apply every record of ``log`` (occurred by ``until``, if given) to ``projection``."""
    stats, started = ReplayStats(projection.schema), time.perf_counter()
    async for chunk in log.chunks(batch):
        stats.read += len(chunk)
        kept = chunk if until is None else [m for m in chunk if occurred_by(m, until)]
        stats.after_until += len(chunk) - len(kept)
        if kept:
            result = await projection.apply(conn, kept)
            stats.applied += result.applied
            stats.duplicates += result.duplicates
            stats.dead += len(result.dead)
        on_progress(len(chunk))
    stats.position = log.position
    await record_position(conn, projection.schema, log.topic, stats.position, until)
    stats.seconds = time.perf_counter() - started
    return stats


async def record_position(conn: asyncpg.Connection, schema: str, topic: str,
                          position: dict[int, int], until: datetime | None = None) -> None:
    """Store how far a replay read (its ``projector_offsets``, as the live projector does),
    and, for an as-of replay, its ``until`` as the schema's comment (``as_of``)."""
    await tracking.record_position(conn, schema, topic, position)
    if until is not None:
        await conn.execute(f'COMMENT ON SCHEMA "{schema}" IS '
                           f"'saylau replay as of {until.isoformat()}'")


async def as_of(conn: asyncpg.Connection, schema: str) -> str | None:
    """The ``--until`` of an as-of replay schema (None for a full replay)."""
    comment = await conn.fetchval("SELECT obj_description(oid, 'pg_namespace') FROM "
                                  "pg_namespace WHERE nspname = $1", schema)
    prefix = "saylau replay as of "
    return comment.removeprefix(prefix) if comment and comment.startswith(prefix) else None


def occurred_by(message: Message, until: datetime) -> bool:
    """Whether the record's ``occurred_at`` is at or before ``until``.

    A record whose time cannot be read is kept, so the projection dead-letters it as live does.
    """
    try:
        occurred = datetime.fromisoformat(orjson.loads(message.value)["occurred_at"])
        return occurred.tzinfo is None or occurred <= until
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return True
