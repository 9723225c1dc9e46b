"""The one projection code path: apply a batch of log records to the read models.

The live projector and ``saylau replay`` both call ``Projection.apply``. Everything a batch
changes, the read models, the dead letters, the change feed and the partition offsets it
consumed, is written in ONE transaction of a ``ProjectionStore``, so a crash at any point
re-reads the batch and the stored offsets make the re-delivery harmless (exactly-once effects
on at-least-once delivery). Duplicate event ids (a partner re-sending after a timeout) are
dropped by id. The store is PostgreSQL live (``saylau.readmodels.postgres``) and an in-memory
fake in the orchestration's contract tests.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg

from saylau.catalogue import Catalogue, catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.checklists import ChecklistBook, checklist_book
from saylau.domain.rules import RuleConfig
from saylau.log.decode import Decoded, Message, PoisonMessage, decode
from saylau.readmodels.base import Batch
from saylau.readmodels.batch import Planner, Targets, pointed_at
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.placing import Registered
from saylau.readmodels.postgres import PostgresProjectionStore
from saylau.readmodels.tracking import chain_heads, next_offsets
from saylau.settings import Settings

Decodings = dict[tuple[int, int], "Decoded | str"]
"""Records decoded ahead of their transaction, by (partition, offset): the event, or why not."""


def _decoded_or_reason(message: Message, catalogue: Catalogue,
                       calendars: Calendars) -> Decoded | str:
    try:
        return decode(message, catalogue, calendars)
    except PoisonMessage as exc:
        return str(exc)


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead: list[tuple[Message, str]] = field(default_factory=list)


class LogRewound(RuntimeError):
    """Records arrived below their partition's stored offset: delivered again, or a consumer
    reset to the start of a recreated topic. Raised before anything is written."""


def _below(batch: Sequence[Message], fresh: Sequence[Message]) -> str:
    kept = {(m.partition, m.offset) for m in fresh}
    first: dict[int, int] = {}
    for m in batch:
        if (m.partition, m.offset) not in kept:
            first[m.partition] = min(first.get(m.partition, m.offset), m.offset)
    return "records below the stored offsets arrived (" + ", ".join(
        f"partition {p} from offset {o}" for p, o in sorted(first.items())) + ")"


class ProjectionStore(Protocol):
    """Where a batch is written; every method but ``transaction`` runs inside one."""

    rejected_content: tuple[type[Exception], ...]
    """Errors about a record's content that no retry can cure."""

    def transaction(self) -> AbstractAsyncContextManager[None]: ...
    async def lock_offsets(self, partitions: list[int]) -> dict[int, int]: ...
    async def save_offsets(self, nexts: dict[int, int],
                           heads: dict[int, str | None] | None = None) -> None:
        """Move the offsets forward; ``heads``: the chain hash of each one's last record."""
    async def known_event_ids(self, ids: list[uuid.UUID]) -> set[uuid.UUID]: ...
    async def fetch_records(self, ids: list[uuid.UUID]
                            ) -> list[tuple[uuid.UUID, bytes, str, str | None]]:
        """Stored events by id: record, status and region."""
    async def registry_entries(self, station_ids: list[str]) -> Registered:
        """The registry entries of these stations: station → (stamp, region)."""
    async def insert_dead_letters(self, dead: list[tuple[Message, str]]) -> None: ...
    async def write(self, batch: Batch) -> None:
        """Fold and write every read model, and publish the changes."""


@dataclass
class Projection:
    """Projects the events topic into the read models of one schema."""

    schema: str
    topic: str
    catalogue: Catalogue
    calendars: Calendars
    config: RuleConfig
    feed: ChangeFeed | None = None
    checklists: ChecklistBook = field(default_factory=checklist_book)
    topic_id: str | None = None
    """The Kafka id of ``topic``, recorded with the offsets once the projector verified it."""

    async def apply(self, conn: asyncpg.Connection, batch: Sequence[Message],
                    decoded: Decodings | None = None, rewound_ok: bool = True) -> BatchResult:
        """Apply ``batch`` exactly once, in one PostgreSQL transaction on ``conn``.

        ``rewound_ok=False`` (the live projector): a record below its partition's stored
        offset raises ``LogRewound`` before anything is written, so the caller checks the
        log's identity first (a consumer reset to a recreated topic's start delivers such
        records, and they must not pass for "already applied")."""
        store = PostgresProjectionStore(conn, self.schema, self.topic, self.config, self.feed,
                                        self.topic_id)
        return await self.apply_to(store, batch, decoded, rewound_ok)

    def decode(self, batch: Sequence[Message]) -> Decodings:
        """Every record of ``batch`` decoded (or its poison reason), keyed by position. Pure.

        Done ahead of the transaction, so a pipeline can decode batch N+1 while batch N's
        SQL runs; records the stored offsets show as applied are simply not used.
        """
        return {(m.partition, m.offset): _decoded_or_reason(m, self.catalogue, self.calendars) for m in batch}

    async def apply_to(self, store: ProjectionStore, batch: Sequence[Message],
                       decoded: Decodings | None = None,
                       rewound_ok: bool = True) -> BatchResult:
        """Apply ``batch`` exactly once, in one transaction of ``store``.

        ``decoded``: ``self.decode(batch)`` if the caller did it ahead (else done here).

        If the store rejects the content (a constraint or data error, which no retry can
        cure), the batch is applied record by record instead and the record rejected on its
        own becomes a dead letter with the error as its reason; so one bad record never
        stalls its partition. Other errors (connection lost, deadlock, missing table)
        propagate: the caller retries them.
        """
        if decoded is None:
            decoded = self.decode(batch)
        try:
            return await self._apply(store, batch, decoded, rewound_ok)
        except store.rejected_content as exc:
            if len(batch) == 1:
                return await self._bury(store, batch[0], exc)
        results = [await self.apply_to(store, [message], decoded, rewound_ok)
                   for message in batch]
        return BatchResult(sum(r.applied for r in results), sum(r.duplicates for r in results),
                           sum(r.skipped for r in results), [d for r in results for d in r.dead])

    async def _bury(self, store: ProjectionStore, message: Message,
                    exc: Exception) -> BatchResult:
        """Dead-letter one record the store refused, and move past it."""
        reason = f"database rejected it: {type(exc).__name__}: {exc}"[:1000]
        async with store.transaction():
            if not await self._unseen(store, [message]):
                return BatchResult(skipped=1)
            await store.insert_dead_letters([(message, reason)])
            await store.save_offsets(next_offsets([message]), chain_heads([message]))
        return BatchResult(dead=[(message, reason)])

    async def _apply(self, store: ProjectionStore, batch: Sequence[Message],
                     decodings: Decodings, rewound_ok: bool) -> BatchResult:
        result = BatchResult()
        async with store.transaction():
            fresh = await self._unseen(store, batch)
            if len(fresh) < len(batch) and not rewound_ok:
                raise LogRewound(_below(batch, fresh))
            result.skipped = len(batch) - len(fresh)
            decoded = self._decoded(fresh, decodings, result)
            new = await self._drop_known(store, decoded)
            result.duplicates = len(decoded) - len(new)
            await store.write(self._planner().plan(new, await self._targets(store, new),
                                                   await self._registered(store, new)))
            await store.insert_dead_letters(result.dead)
            await store.save_offsets(next_offsets(fresh), chain_heads(fresh))
            result.applied = len(new)
        return result

    def _planner(self) -> Planner:
        return Planner(self.catalogue, self.calendars, self.config, self.checklists)

    async def _unseen(self, store: ProjectionStore, batch: Sequence[Message]) -> list[Message]:
        """Messages past the stored offset of their partition (locks those partitions)."""
        stored = await store.lock_offsets(sorted({m.partition for m in batch}))
        return [m for m in batch if m.offset >= stored.get(m.partition, 0)]

    def _decoded(self, batch: Sequence[Message], decodings: Decodings,
                 result: BatchResult) -> list[Decoded]:
        decoded = []
        for message in batch:
            item = decodings.get((message.partition, message.offset))
            if item is None:
                item = _decoded_or_reason(message, self.catalogue, self.calendars)
            if isinstance(item, str):
                result.dead.append((message, item))
            else:
                decoded.append(item)
        return decoded

    async def _drop_known(self, store: ProjectionStore, batch: list[Decoded]) -> list[Decoded]:
        known = await store.known_event_ids([d.event.event_id for d in batch])
        new = []
        for item in batch:
            if item.event.event_id not in known:
                known.add(item.event.event_id)
                new.append(item)
        return new

    async def _targets(self, store: ProjectionStore, batch: list[Decoded]) -> Targets:
        """The stored events the batch's events point at (``pointed_at``): the reports its
        triage events judge, and where its placeless events belong."""
        ids = [i for i in (pointed_at(d.event) for d in batch) if i is not None]
        if not ids:
            return {}
        return {eid: (decode(Message(0, 0, raw), self.catalogue, self.calendars).event, status,
                      region)
                for eid, raw, status, region in await store.fetch_records(ids)}

    async def _registered(self, store: ProjectionStore, batch: list[Decoded]) -> Registered:
        """The registry entries of the stations the batch's events name, in one query."""
        ids = sorted({d.event.station_id for d in batch if d.event.station_id})
        return await store.registry_entries(ids) if ids else {}


def rule_config(cfg: Settings) -> RuleConfig:
    """The alert thresholds from the settings (the same for live and replay)."""
    return RuleConfig(surge_threshold=cfg.surge_threshold,
                      surge_window_minutes=cfg.surge_window_minutes,
                      kettling_max_hours=cfg.kettling_max_hours,
                      turnout_jump_share=cfg.turnout_jump_share,
                      turnout_jump_voters=cfg.turnout_jump_voters,
                      corroboration_window_minutes=cfg.corroboration_window_minutes)


def event_catalogue(cfg: Settings) -> Catalogue:
    """The catalogue in use (EVENT_SCHEMA_DIR pins another release's schemas)."""
    return Catalogue(Path(cfg.event_schema_dir)) if cfg.event_schema_dir else catalogue()


def build_projection(cfg: Settings, schema: str, topic: str,
                     feed: ChangeFeed | None) -> Projection:
    """A Projection into ``schema`` of ``topic``; live passes a notifying feed, replay none."""
    return Projection(schema, topic, event_catalogue(cfg), Calendars.load(), rule_config(cfg),
                      feed)
