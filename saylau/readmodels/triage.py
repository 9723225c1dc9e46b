"""The triage queue: unverified reports, urgent first, with operators' claims and notes."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Text
from sqlalchemy.dialects.postgresql import UUID

from saylau.ddl import READ, table
from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import NOT_REPORTS, TRIAGE_ACTIONS, UNVERIFIED
from saylau.privacy.records import Names
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.events import shown_records

triage_actions = table(
    "triage_actions", READ,
    Column("action_id", UUID, primary_key=True),
    Column("report_id", UUID, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("partner", Text),
    Column("operator", Text),
    Column("note", Text),
)
ESCALATION, CLAIM = TRIAGE_ACTIONS["triage.escalated"], TRIAGE_ACTIONS["triage.claimed"]


def fold(batch: Batch, config: RuleConfig) -> list[tuple[Any, ...]]:
    """An operator's claim, escalation or comment on an earlier report: one row each."""
    return [(e.event_id, e.payload["event_id"], TRIAGE_ACTIONS[e.type], e.occurred_at, partner,
             e.payload.get("operator"), e.payload.get("note", e.payload.get("reason")))
            for e, partner in batch.actions]


async def write(conn: asyncpg.Connection, rows: list[tuple[Any, ...]],
                config: RuleConfig) -> list[Change]:
    if rows:
        await conn.copy_records_to_table("triage_actions", records=rows, columns=(
            "action_id", "report_id", "kind", "occurred_at", "partner", "operator", "note"))
    return []


READ_MODEL = ReadModel("triage", (triage_actions,), fold, write)

TRIAGE_QUEUE = """
SELECT e.event_id, e.record::text AS record FROM events e
WHERE e.status = $3 AND e.type <> ALL($2::text[])
ORDER BY NOT EXISTS (SELECT 1 FROM triage_actions a
                     WHERE a.report_id = e.event_id AND a.kind = $4),
         e.received_at, e.event_id
LIMIT $1
"""


async def triage_queue(conn: asyncpg.Connection, limit: int,
                       names: Names) -> list[dict[str, Any]]:
    """Unverified reports, urgent ones first, each with its claim, escalations and comments."""
    rows = await conn.fetch(TRIAGE_QUEUE, limit, list(NOT_REPORTS), UNVERIFIED, ESCALATION)
    handled = await triage_summaries(conn, [r["event_id"] for r in rows])
    records = await shown_records([r["record"] for r in rows], names)
    return [{**record, "triage": handled.get(r["event_id"], triage_summary([]))}
            for record, r in zip(records, rows, strict=True)]


def triage_summary(actions: Sequence[asyncpg.Record]) -> dict[str, Any]:
    """Who holds a report, whether it is urgent, and the operators' notes, oldest first."""
    claims = [a for a in actions if a["kind"] == CLAIM]
    last = claims[-1] if claims else None
    return {"claimed_by": last and (last["operator"] or last["partner"]),
            "claimed_at": last and last["occurred_at"],
            "urgent": any(a["kind"] == ESCALATION for a in actions),
            "notes": [{"kind": a["kind"], "at": a["occurred_at"],
                       "by": a["operator"] or a["partner"], "note": a["note"]}
                      for a in actions if a["kind"] != CLAIM or a["note"]]}


async def triage_summaries(conn: asyncpg.Connection,
                           report_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT report_id, kind, occurred_at, partner, operator, note FROM triage_actions "
        "WHERE report_id = ANY($1::uuid[]) ORDER BY occurred_at, action_id", report_ids)
    grouped: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in rows:
        grouped.setdefault(r["report_id"], []).append(r)
    return {rid: triage_summary(actions) for rid, actions in grouped.items()}
