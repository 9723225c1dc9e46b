"""The PostgreSQL ``ProjectionStore``: one transaction per batch, read schema on the path."""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from saylau.domain.rules import RuleConfig
from saylau.log.decode import Message
from saylau.readmodels import READ_MODELS, breaches, events, registry, tracking
from saylau.readmodels.base import Batch, Change
from saylau.readmodels.batch import event_change
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.placing import Registered
from saylau.readmodels.region_moves import REGION_MOVES, RegionMoves

REJECTED_CONTENT = (asyncpg.exceptions.DataError,
                    asyncpg.exceptions.IntegrityConstraintViolationError)
"""Errors about a record's content (SQLSTATE classes 22 and 23): retrying cannot help."""


class PostgresProjectionStore:
    """Writes a batch to the read models of ``schema`` through ``conn``."""

    rejected_content = REJECTED_CONTENT

    def __init__(self, conn: asyncpg.Connection, schema: str, topic: str, config: RuleConfig,
                 feed: ChangeFeed | None = None, topic_id: str | None = None) -> None:
        self.conn, self.schema, self.topic = conn, schema, topic
        self.config, self.feed, self.topic_id = config, feed, topic_id

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self.conn.transaction():
            await self.conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            yield

    async def lock_offsets(self, partitions: list[int]) -> dict[int, int]:
        return await tracking.lock_offsets(self.conn, self.topic, partitions)

    async def save_offsets(self, nexts: dict[int, int],
                           heads: dict[int, str | None] | None = None) -> None:
        await tracking.save_offsets(self.conn, self.topic, nexts, heads, self.topic_id)

    async def known_event_ids(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        return await events.known_event_ids(self.conn, ids)

    async def fetch_records(self, ids: list[uuid.UUID]
                            ) -> list[tuple[uuid.UUID, bytes, str, str | None]]:
        return await events.fetch_records(self.conn, ids)

    async def registry_entries(self, station_ids: list[str]) -> Registered:
        return await registry.registry_entries(self.conn, station_ids)

    async def insert_dead_letters(self, dead: list[tuple[Message, str]]) -> None:
        await tracking.insert_dead_letters(self.conn, self.topic, dead)

    async def write(self, batch: Batch) -> None:
        """Every read model in registry order, then the change feed."""
        changed: list[Change] = []
        moves: Counter[breaches.CountKey] = Counter()
        gathering = breaches.OPEN_DELTAS.set(moves)  # breach writes' count moves, for the roll-ups
        regions = REGION_MOVES.set(RegionMoves())  # and the stations' and detentions' moves
        try:
            for model in READ_MODELS:
                changed += await model.write(self.conn, model.fold(batch, self.config),
                                             self.config)
            await breaches.apply_open_deltas(self.conn, moves)  # none left, unless a model
        finally:                                                # after the roll-ups wrote one
            breaches.OPEN_DELTAS.reset(gathering)
            REGION_MOVES.reset(regions)
        if self.feed is not None:
            await self.feed.publish(self.conn, batch.urgent + changed
                                    + [event_change(d.event, batch) for d in batch.applied])
