"""An in-memory ``ProjectionStore``: the fake the batch transaction's contract tests use.

It keeps what the orchestration decides (stored events and statuses, offsets, dead letters,
and each read model's fold of every written batch) and takes all of it back when the
transaction fails, like PostgreSQL does.
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import TARGETING, UNVERIFIED
from saylau.log.decode import Message
from saylau.readmodels import READ_MODELS
from saylau.readmodels.base import Batch
from saylau.readmodels.placing import Registered


class RejectedContent(Exception):
    """What the fake raises for content it refuses (PostgreSQL: SQLSTATE 22 / 23)."""


@dataclass
class State:
    events: dict[uuid.UUID, tuple[bytes, str, str | None]] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)
    dead: list[tuple[int, int, str]] = field(default_factory=list)
    folds: dict[str, list[Any]] = field(default_factory=dict)


class InMemoryProjectionStore:
    rejected_content = (RejectedContent,)

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        saved = copy.deepcopy(self.state)
        try:
            yield
        except BaseException:
            self.state = saved
            raise

    async def lock_offsets(self, partitions: list[int]) -> dict[int, int]:
        return {p: self.state.offsets.setdefault(p, 0) for p in partitions}

    async def save_offsets(self, nexts: dict[int, int],
                           heads: dict[int, str | None] | None = None) -> None:
        for p, n in nexts.items():
            self.state.offsets[p] = max(self.state.offsets.get(p, 0), n)

    async def known_event_ids(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        return {i for i in ids if i in self.state.events}

    async def fetch_records(self, ids: list[uuid.UUID]
                            ) -> list[tuple[uuid.UUID, bytes, str, str | None]]:
        return [(i, *self.state.events[i]) for i in ids if i in self.state.events]

    async def registry_entries(self, station_ids: list[str]) -> Registered:
        """The registry entries the registry read model's folds wrote, latest stamp wins."""
        entries: Registered = {}
        for rows in self.state.folds.get("registry", []):
            for station, (at, _number, region, *_rest) in rows.details.items():
                if station in station_ids and at > entries.get(station, ("", None))[0]:
                    entries[station] = (at, region)
        return entries

    async def insert_dead_letters(self, dead: list[tuple[Message, str]]) -> None:
        self.state.dead += [(m.partition, m.offset, reason) for m, reason in dead]

    async def write(self, batch: Batch) -> None:
        for d in batch.applied:
            status = "report" if d.event.type in TARGETING else UNVERIFIED
            self.state.events[d.event.event_id] = (d.message.value, status,
                                                    batch.region_of(d.event))
        for event_id, status in batch.statuses.items():
            record, _, region = self.state.events[event_id]
            self.state.events[event_id] = (record, status, region)
        for model in READ_MODELS:
            self.state.folds.setdefault(model.name, []).append(model.fold(batch, self.config))
