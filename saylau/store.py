"""The one projection code path: apply a batch of log records to a PostgreSQL schema.

The live projector and ``saylau replay`` both call ``Projection.apply``. Everything a batch
changes, the read models, the dead letters, the change feed and the partition offsets it
consumed, is written in ONE transaction, so a crash at any point re-reads the batch and the
offsets stored here make the re-delivery harmless (exactly-once effects on at-least-once
delivery). Duplicate event ids (a partner re-sending after a timeout) are dropped by id.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from saylau import sql, sql_field
from saylau.catalogue import Catalogue
from saylau.decode import Decoded, Message, PoisonMessage, decode
from saylau.domain.calendar import Calendars
from saylau.domain.checklists import ChecklistBook, checklist_book
from saylau.domain.rules import RULES, RuleConfig, breaches
from saylau.envelope import Envelope
from saylau.feed import ChangeFeed
from saylau.fieldwork import TRIAGE_ACTIONS
from saylau.projection import TRIAGE_REPORTS, WITHDRAWING_REPORTS, Deltas

REJECTED_CONTENT = (asyncpg.exceptions.DataError,
                    asyncpg.exceptions.IntegrityConstraintViolationError)
"""Errors about a record's content (SQLSTATE classes 22 and 23): retrying cannot help."""

TARGETING = (*TRIAGE_REPORTS, *TRIAGE_ACTIONS)
"""Types about an earlier report, named by ``payload.event_id``."""


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead: list[tuple[Message, str]] = field(default_factory=list)


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

    async def apply(self, conn: asyncpg.Connection, batch: Sequence[Message]) -> BatchResult:
        """Apply ``batch`` exactly once, in one transaction.

        If the database rejects the content (a constraint or data error, which no retry can
        cure), the batch is applied record by record instead and the record the database
        rejects on its own becomes a dead letter with the error as its reason; so one bad
        record never stalls its partition. Other errors (connection lost, deadlock, missing
        table) propagate: the caller retries them.
        """
        try:
            return await self._apply(conn, batch)
        except REJECTED_CONTENT as exc:
            if len(batch) == 1:
                return await self._bury(conn, batch[0], exc)
        results = [await self.apply(conn, [message]) for message in batch]
        return BatchResult(sum(r.applied for r in results), sum(r.duplicates for r in results),
                           sum(r.skipped for r in results), [d for r in results for d in r.dead])

    async def _bury(self, conn: asyncpg.Connection, message: Message,
                    exc: Exception) -> BatchResult:
        """Dead-letter one record the database refused, and move past it."""
        reason = f"database rejected it: {type(exc).__name__}: {exc}"[:1000]
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            if not await self._unseen(conn, [message]):
                return BatchResult(skipped=1)
            await sql.insert_dead_letters(conn, self.topic, [(message, reason)])
            await sql.save_offsets(conn, self.topic, [message])
        return BatchResult(dead=[(message, reason)])

    async def _apply(self, conn: asyncpg.Connection, batch: Sequence[Message]) -> BatchResult:
        result = BatchResult()
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            fresh = await self._unseen(conn, batch)
            result.skipped = len(batch) - len(fresh)
            decoded = self._decode(fresh, result)
            new = await self._drop_known(conn, decoded)
            result.duplicates = len(decoded) - len(new)
            await self._project(conn, new)
            await sql.insert_dead_letters(conn, self.topic, result.dead)
            await sql.save_offsets(conn, self.topic, fresh)
            result.applied = len(new)
        return result

    async def _unseen(self, conn: asyncpg.Connection, batch: Sequence[Message]) -> list[Message]:
        """Messages past the stored offset of their partition (locks those partitions)."""
        stored = await sql.lock_offsets(conn, self.topic, sorted({m.partition for m in batch}))
        return [m for m in batch if m.offset >= stored.get(m.partition, 0)]

    def _decode(self, batch: Sequence[Message], result: BatchResult) -> list[Decoded]:
        decoded = []
        for message in batch:
            try:
                decoded.append(decode(message, self.catalogue))
            except PoisonMessage as exc:
                result.dead.append((message, str(exc)))
        return decoded

    async def _drop_known(self, conn: asyncpg.Connection, batch: list[Decoded]) -> list[Decoded]:
        known = await sql.known_event_ids(conn, [d.event.event_id for d in batch])
        new = []
        for item in batch:
            if item.event.event_id not in known:
                known.add(item.event.event_id)
                new.append(item)
        return new

    async def _project(self, conn: asyncpg.Connection, batch: list[Decoded]) -> None:
        deltas, found, statuses = Deltas(checklists=self.checklists), [], {}
        urgent: list[dict[str, Any]] = []
        targets = await self._triage_targets(conn, batch)
        for item in batch:
            event = item.event
            if event.type in TRIAGE_REPORTS:
                self._triage(event, targets, statuses, deltas)
                continue
            if event.type in TRIAGE_ACTIONS:
                deltas.fieldwork.add_action(event, item.record.get("partner"))
                if event.type == "triage.escalated":
                    urgent.append(_urgent_change(event, targets))
                continue
            deltas.add(event, +1, self.catalogue, self.config)
            if event.type in RULES:  # most reports break no rule: skip the calendar work
                found += breaches(event, self.calendars, self.config)
            targets[event.event_id] = (event, "unverified")
        await sql.insert_events(conn, batch, statuses)
        await sql.set_statuses(conn, statuses)
        changed = await sql.apply_deltas(conn, deltas)
        changed += await sql.upsert_breaches(conn, found)
        changed += await sql.withdraw_breaches(conn, [k for k, s in statuses.items()
                                                      if s in WITHDRAWING_REPORTS.values()])
        changed += await sql.evaluate_surges(conn, deltas, self.config)
        changed += await sql_field.apply_fieldwork(conn, deltas.fieldwork, self.config)
        if self.feed is not None:
            await self.feed.publish(conn, urgent + changed + [_event_change(d.event)
                                                              for d in batch])

    async def _triage_targets(self, conn: asyncpg.Connection,
                              batch: list[Decoded]) -> dict[uuid.UUID, tuple[Envelope, str]]:
        ids = [uuid.UUID(str(d.event.payload["event_id"])) for d in batch
               if d.event.type in TARGETING]
        if not ids:
            return {}
        rows = await sql.fetch_records(conn, ids)
        return {eid: (decode(Message(0, 0, raw), self.catalogue).event, status)
                for eid, raw, status in rows}

    def _triage(self, report: Envelope, targets: dict[uuid.UUID, tuple[Envelope, str]],
                statuses: dict[uuid.UUID, str], deltas: Deltas) -> None:
        """Verify, reject or retract an earlier report; the log itself is never edited."""
        target_id = uuid.UUID(str(report.payload["event_id"]))
        if target_id not in targets:
            return
        target, status = targets[target_id]
        status = statuses.get(target_id, status)
        new_status = TRIAGE_REPORTS[report.type]
        if status in WITHDRAWING_REPORTS.values():
            return
        if new_status in WITHDRAWING_REPORTS.values():
            deltas.add(target, -1, self.catalogue, self.config)
        statuses[target_id] = new_status


def _event_change(event: Envelope) -> dict[str, Any]:
    return {"kind": "event", "region": event.region, "station_id": event.station_id,
            "data": {"event_id": str(event.event_id), "type": event.type,
                     "occurred_at": event.occurred_at.isoformat(), "city": event.city}}


def _urgent_change(escalation: Envelope,
                   targets: dict[uuid.UUID, tuple[Envelope, str]]) -> dict[str, Any]:
    """A report escalated as urgent: pushed on the live feed in the escalation's own batch."""
    report_id = uuid.UUID(str(escalation.payload["event_id"]))
    report = targets[report_id][0] if report_id in targets else None
    return {"kind": "urgent", "region": report and report.region,
            "station_id": report and report.station_id,
            "data": {"event_id": str(report_id), "escalation_id": str(escalation.event_id),
                     "type": report and report.type, "reason": escalation.payload["reason"],
                     "operator": escalation.payload.get("operator"),
                     "escalated_at": escalation.occurred_at.isoformat()}}
