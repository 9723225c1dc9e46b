"""Evidence per event: the files each report names, and those ``evidence.attached`` adds.

A report's own files are in its record too; this table also holds the files attached later,
under the report they belong to, so one query lists a report's files whichever event bound
them. Replayed like every read model, so ``saylau compare`` covers it.
"""
from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy import Column, Integer, Text
from sqlalchemy.dialects.postgresql import UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import EVIDENCE_ATTACHED
from saylau.envelope import Envelope
from saylau.privacy.records import Names
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.readmodels.events import REGION_OF_EVENT
from saylau.store.ddl import READ, table

event_evidence = table(
    "event_evidence", READ,
    Column("event_id", UUID, primary_key=True),
    Column("sha256", Text, primary_key=True),
    Column("bound_by", UUID, nullable=False),
    Column("position", Integer, nullable=False),
    Column("caption", Text),
)
"""``event_id``: the report; ``bound_by``: the event that named the file (the report itself
or an ``evidence.attached``); the first binding of a file to a report wins."""


def bindings(event: Envelope) -> list[tuple[uuid.UUID, str, uuid.UUID, int, str | None]]:
    """The (report, file, bound by, position, caption) rows one event makes."""
    rows = [(event.event_id, item.sha256, event.event_id, i, item.caption)
            for i, item in enumerate(event.evidence or [])]
    if event.type == EVIDENCE_ATTACHED:
        target = uuid.UUID(str(event.payload["event_id"]))
        rows += [(target, item["sha256"], event.event_id, i, item.get("caption"))
                 for i, item in enumerate(event.payload["evidence"])]
    return rows


def fold(batch: Batch, config: RuleConfig) -> list[tuple[Any, ...]]:
    """The bindings of the batch's new events, in log order."""
    return [row for d in batch.applied for row in bindings(d.event)]


async def write(conn: asyncpg.Connection, rows: list[tuple[Any, ...]],
                config: RuleConfig) -> list[Change]:
    if rows:
        await conn.execute(
            "INSERT INTO event_evidence (event_id, sha256, bound_by, position, caption) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[]) "
            "ON CONFLICT DO NOTHING", *columns(rows))
    return []


READ_MODEL = ReadModel("event_evidence", (event_evidence,), fold, write)

FILES_OF = """
SELECT v.event_id, v.sha256, v.caption, v.bound_by, f.media_type, f.derivative_sha256
FROM event_evidence v LEFT JOIN "{ingest}".evidence_files f USING (sha256)
WHERE v.event_id = ANY($1::uuid[])
ORDER BY v.event_id, (v.bound_by <> v.event_id), v.bound_by, v.position
"""


async def files_of(conn: asyncpg.Connection, event_ids: list[uuid.UUID],
                   ingest_schema: str, names: Names) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each event's files (its own first, then attached ones), with media type and privacy
    derivative from ingest's ``evidence_files`` (the dashboard shows the derivative). A
    caption is free text: opened for readers of names, else ``"[text withheld]"``."""
    if not event_ids:
        return {}
    rows = await conn.fetch(FILES_OF.format(ingest=ingest_schema.replace('"', '""')),
                            event_ids)
    captions = await names.texts([(r["caption"], r["bound_by"], "evidence") for r in rows])
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r, caption in zip(rows, captions, strict=True):
        found.setdefault(r["event_id"], []).append(
            {"sha256": r["sha256"], "caption": caption, "bound_by": str(r["bound_by"]),
             "media_type": r["media_type"], "derivative_sha256": r["derivative_sha256"]})
    return found


BOUND_WITHIN = """
SELECT EXISTS (
  SELECT 1 FROM event_evidence v JOIN events e USING (event_id)
  WHERE {region} = ANY($2::text[]) AND (v.sha256 = $1 OR v.sha256 IN (
    SELECT sha256 FROM "{ingest}".evidence_files WHERE derivative_sha256 = $1)))
"""
"""Whether a report of the regions ``$2`` names the file ``$1`` (or the original whose
metadata-free copy it is)."""


async def bound_within(conn: asyncpg.Connection, sha256: str, ingest_schema: str,
                       within: list[str] | None) -> bool:
    """Whether a principal reading ``within`` (None: the whole country) may fetch the file:
    a regional one only the files bound to her regions' reports."""
    return within is None or bool(await conn.fetchval(
        BOUND_WITHIN.format(ingest=ingest_schema.replace('"', '""'), region=REGION_OF_EVENT),
        sha256, within))
