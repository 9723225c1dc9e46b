"""The triage queue: unverified reports, urgent first, with operators' claims and notes.

A note is free text, kept as appended (sealed): the queue opens it for readers of names and
shows ``"[text withheld]"`` to everyone else; erasing its key erases it here too."""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Index, SmallInteger, Text
from sqlalchemy.dialects.postgresql import UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import ESCALATED, NOT_REPORTS, TRIAGE_ACTIONS, UNVERIFIED
from saylau.privacy.records import Names
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.events import REGION_OF_EVENT, received_at, shown_records
from saylau.store import paging
from saylau.store.ddl import READ, table

triage_actions = table(
    "triage_actions", READ,
    Column("action_id", UUID, primary_key=True),
    Column("report_id", UUID, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("partner", Text),
    Column("actor", Text),  # who did it: the account's login or the key's partner (ingest's)
    Column("operator", Text),
    Column("note", Text),
)
ESCALATION, CLAIM = TRIAGE_ACTIONS["triage.escalated"], TRIAGE_ACTIONS["triage.claimed"]
NOTE_FIELD = {ESCALATION: "reason"}
"""The payload field an action's note came from (sealed values open with it): ``note``,
but an escalation's ``reason``."""


URGENT, WAITING = 0, 1
"""``queue_rank``: escalated reports come first, then the others, oldest received first."""

triage_queue = table(
    "triage_queue", READ,
    Column("event_id", UUID, primary_key=True),
    Column("queue_rank", SmallInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("triage_queue_order", "queue_rank", "received_at", "event_id"),
)


@dataclass
class TriageRows:
    actions: list[tuple[Any, ...]] = field(default_factory=list)
    """One row per claim, escalation or comment."""
    queued: list[tuple[uuid.UUID, datetime | None]] = field(default_factory=list)
    """New reports still unverified at the batch's end, with when they were received."""
    judged: list[uuid.UUID] = field(default_factory=list)
    """Reports verified, rejected or retracted: out of the queue."""
    escalated: list[uuid.UUID] = field(default_factory=list)


def fold(batch: Batch, config: RuleConfig) -> TriageRows:
    """Operators' actions, and how the queue changes: new reports join it, judged reports
    leave it, escalated ones move to its head."""
    return TriageRows(
        actions=[(a.event.event_id, a.event.payload["event_id"], TRIAGE_ACTIONS[a.event.type],
                  a.event.occurred_at, a.partner, a.actor, a.event.payload.get("operator"),
                  a.event.payload.get("note", a.event.payload.get("reason")))
                 for a in batch.actions],
        queued=[(d.event.event_id, received_at(d.record))
                for d in batch.applied if d.event.type not in NOT_REPORTS
                and batch.statuses.get(d.event.event_id, UNVERIFIED) == UNVERIFIED],
        judged=list(batch.statuses),
        escalated=[uuid.UUID(str(a.event.payload["event_id"])) for a in batch.actions
                   if a.event.type == ESCALATED])


QUEUE_NEW = """
INSERT INTO triage_queue (event_id, queue_rank, received_at)
SELECT q.id, CASE WHEN EXISTS (SELECT 1 FROM triage_actions a WHERE a.kind = $3
                               AND a.report_id = q.id) THEN $4::smallint ELSE $5::smallint END,
       q.received_at
FROM unnest($1::uuid[], $2::timestamptz[]) AS q(id, received_at)
ON CONFLICT (event_id) DO NOTHING
"""
"""New reports join the queue, urgent when an escalation arrived before them (the batch's
own actions are written first); their status and arrival come from the batch, not from a
re-read of ``events``."""


async def write(conn: asyncpg.Connection, rows: TriageRows, config: RuleConfig) -> list[Change]:
    """The actions first, so a report escalated before it arrived (another partition) joins
    the queue urgent: the queue depends on the log, not on arrival order."""
    if rows.actions:
        await conn.copy_records_to_table("triage_actions", records=rows.actions, columns=(
            "action_id", "report_id", "kind", "occurred_at", "partner", "actor", "operator",
            "note"))
    if rows.queued:
        ids, received = zip(*rows.queued, strict=True)
        await conn.execute(QUEUE_NEW, ids, received, ESCALATION, URGENT, WAITING)
    if rows.escalated:
        await conn.execute("UPDATE triage_queue SET queue_rank = $2::smallint "
                           "WHERE event_id = ANY($1::uuid[])", rows.escalated, URGENT)
    if rows.judged:
        await conn.execute("DELETE FROM triage_queue WHERE event_id = ANY($1::uuid[])",
                           rows.judged)
    return []


READ_MODEL = ReadModel("triage", (triage_actions, triage_queue), fold, write,
                       after=("events",))

TRIAGE_QUEUE = """
SELECT q.queue_rank, q.received_at, q.event_id, e.record::text AS record
FROM triage_queue q JOIN events e ON e.event_id = q.event_id
WHERE $2::smallint IS NULL OR (q.queue_rank, q.received_at, q.event_id) > ($2, $3, $4)
ORDER BY q.queue_rank, q.received_at, q.event_id LIMIT $1
"""
TRIAGE_QUEUE_OF = TRIAGE_QUEUE.replace(
    "WHERE $2", f"WHERE {REGION_OF_EVENT} = ANY($5::text[]) AND ($2").replace(
    "\nORDER BY", ")\nORDER BY")
"""A regional principal's page: her regions' reports only."""


async def triage_queue_page(conn: asyncpg.Connection, limit: int, names: Names,
                            after: tuple[Any, ...] | None = None,
                            within: list[str] | None = None
                            ) -> tuple[list[dict[str, Any]], str | None]:
    """A keyset page of unverified reports, urgent first, each with its claim, escalations
    and comments. The key (rank, received_at, event_id) is unique; only an escalation moves
    a report (to the head), and the live feed pushes it as ``urgent``. ``within``: of these
    regions' reports only."""
    args = (limit + 1, *(after or (None, None, None)))
    rows = await (conn.fetch(TRIAGE_QUEUE, *args) if within is None
                  else conn.fetch(TRIAGE_QUEUE_OF, *args, within))
    shown, next_cursor = paging.page("triage", rows, limit, lambda r: [
        r["queue_rank"], r["received_at"], r["event_id"]])
    handled = await triage_summaries(conn, [r["event_id"] for r in shown], names)
    records = await shown_records([r["record"] for r in shown], names)
    return [{**record, "triage": handled.get(r["event_id"], triage_summary([]))}
            for record, r in zip(records, shown, strict=True)], next_cursor


def triage_summary(actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Who holds a report, whether it is urgent, and the operators' notes, oldest first.
    ``by``: the operator as she named herself (free text), else the partner; ``actor``: who
    did it as the server knows it (the account's login or the key's partner)."""
    claims = [a for a in actions if a["kind"] == CLAIM]
    last = claims[-1] if claims else None
    return {"claimed_by": last and (last["operator"] or last["partner"]),
            "claimed_actor": last and actor_of(last),
            "claimed_at": last and last["occurred_at"],
            "urgent": any(a["kind"] == ESCALATION for a in actions),
            "notes": [{"kind": a["kind"], "at": a["occurred_at"],
                       "by": a["operator"] or a["partner"], "actor": actor_of(a),
                       "note": a["note"]}
                      for a in actions if a["kind"] != CLAIM or a["note"]]}


def actor_of(action: Mapping[str, Any]) -> str | None:
    """Who did an action; a record appended before ingest stamped ``actor``: its partner."""
    return action["actor"] or action["partner"]  # type: ignore[no-any-return]


async def triage_summaries(conn: asyncpg.Connection, report_ids: list[uuid.UUID],
                           names: Names) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT action_id, report_id, kind, occurred_at, partner, actor, operator, note "
        "FROM triage_actions WHERE report_id = ANY($1::uuid[]) ORDER BY occurred_at, action_id",
        report_ids)
    notes = await names.texts([(r["note"], r["action_id"], NOTE_FIELD.get(r["kind"], "note"))
                               for r in rows])
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r, note in zip(rows, notes, strict=True):
        grouped.setdefault(r["report_id"], []).append({**dict(r), "note": note})
    return {rid: triage_summary(actions) for rid, actions in grouped.items()}
