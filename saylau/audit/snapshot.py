"""Compare like with like: the live read models and a replay, at the same log position.

While reports keep arriving, the live read models move past the point where a replay stopped.
So the comparison opens ONE repeatable-read transaction: its first statement reads the live
schema's stored offsets, which fixes the snapshot (the projector writes its read models and its
offsets in one transaction, so the snapshot's tables are exactly the projection of the log up
to those offsets). In the same transaction the replay schema is brought up to that position
(the records between the replay's position and the live one, through the same projection
code; a transaction sees its own writes), and then every audited table is compared. If the
live projector is still behind the replay, the snapshot is retaken until it has caught up.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from saylau.audit.compare import (
    TableComparison,
    compare_tables,
    ensure_schemas,
    identity_differences,
    recorded_identity,
)
from saylau.audit.logsource import KafkaLog
from saylau.audit.replay import as_of, record_position, replay_projection
from saylau.readmodels.tracking import stored_positions
from saylau.settings import Settings

CATCH_UP_BATCH = 5000


class LiveBehind(Exception):
    """The live projector did not reach the replay's position in time."""


@dataclass
class Snapshot:
    """A comparison at one log position."""

    topic: str
    position: dict[int, int]
    tables: list[TableComparison]
    caught_up: int = 0
    """Records applied to the replay to bring it to ``position``."""
    as_of: str | None = None
    waited: float = 0.0
    identity: list[str] = field(default_factory=list)
    """Where the two disagree on the log they came from (topic id, chain heads)."""
    different: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.different = [t.table for t in self.tables if not t.equal] + (
            ["log identity"] if self.identity else [])


async def replay_topic(conn: asyncpg.Connection, replay: str,
                      default: str) -> tuple[str, dict[int, int]]:
    """The topic a replay schema was built from, and the position it reached."""
    stored = await stored_positions(conn, replay)
    topic = default if default in stored or not stored else min(stored)
    return topic, stored.get(topic, {})


async def compare_at_live_position(conn: asyncpg.Connection, live: str, replay: str,
                                   cfg: Settings, limit: int = 20, wait: float = 120.0,
                                   on_wait: Callable[[str], None] = lambda m: None) -> Snapshot:
    """Compare ``live`` and ``replay`` at the live snapshot's log position (see module doc)."""
    await ensure_schemas(conn, live, replay)
    topic, reached = await replay_topic(conn, replay, cfg.events_topic)
    until = await as_of(conn, replay)
    if until is not None:  # an as-of replay is not a position of the live models: compare as is
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            position = (await stored_positions(conn, live, topic)).get(topic, {})
            return Snapshot(topic, position, await compare_tables(conn, live, replay, limit),
                            as_of=until)
    started = time.monotonic()
    while True:
        tx = conn.transaction(isolation="repeatable_read")
        await tx.start()
        try:
            position = (await stored_positions(conn, live, topic)).get(topic, {})  # fixes the snapshot
            behind = {p: o for p, o in reached.items() if position.get(p, 0) < o}
            if not behind:
                applied = await catch_up(conn, replay, topic, reached, position, cfg)
                tables = await compare_tables(conn, live, replay, limit)
                identity = identity_differences(
                    live, await recorded_identity(conn, live, topic),
                    replay, await recorded_identity(conn, replay, topic))
                await tx.commit()
                return Snapshot(topic, {**{p: 0 for p in reached}, **position}, tables,
                                applied, waited=time.monotonic() - started,
                                identity=identity)
        except BaseException:
            await tx.rollback()
            raise
        await tx.rollback()
        if time.monotonic() - started > wait:
            raise LiveBehind(f"the live read models ({live}) stayed behind the replay at "
                             f"partition offsets {behind} for {wait:.0f} s; is the projector "
                             "running?")
        on_wait(f"live read models behind the replay at {behind}; waiting")
        await asyncio.sleep(0.25)


async def catch_up(conn: asyncpg.Connection, replay: str, topic: str, reached: dict[int, int],
                   position: dict[int, int], cfg: Settings) -> int:
    """Apply the records from ``reached`` up to ``position`` to the replay schema."""
    if all(position.get(p, 0) <= reached.get(p, 0) for p in position):
        return 0
    projection, applied = replay_projection(replay, topic, cfg), 0
    async with KafkaLog(cfg.kafka_bootstrap, topic, start=reached, stop=position) as log:
        async for chunk in log.chunks(CATCH_UP_BATCH):
            await projection.apply(conn, chunk)
            applied += len(chunk)
    await record_position(conn, replay, topic, position, bootstrap=cfg.kafka_bootstrap)
    return applied
