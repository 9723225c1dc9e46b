"""Breaches and alerts: what the rules found, open or withdrawn with their evidence."""
from __future__ import annotations

import uuid
from collections import Counter
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Column, DateTime, Index, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from saylau.domain.breach import Breach, RuleConfig, withdrawn_by
from saylau.domain.vocabulary import BREACH_OPEN, BREACH_WITHDRAWN, WITHDRAWN_STATUSES
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.store import paging
from saylau.store.ddl import READ, table

breaches = table(
    "breaches", READ,
    Column("breach_id", UUID, primary_key=True),
    Column("rule_id", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("legal_ref", JSONB),
    Column("event_ids", JSONB, nullable=False),
    Column("station_id", Text),
    Column("region", Text),
    Column("city", Text),
    Column("election_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("detail", JSONB),
    Index("breaches_newest", "occurred_at", "breach_id"),
    Index("breaches_region_newest", "region", "occurred_at", "breach_id"),  # her regions
    after=("ALTER TABLE breaches ADD COLUMN IF NOT EXISTS detail JSONB",),
)
Rows = tuple[list[Breach], list[uuid.UUID]]
EVIDENCE_SHOWN = 20
"""A breach lists its first 20 event ids (sorted) and ``evidence_count``; the whole evidence
is paged at ``GET /v1/breaches/{breach_id}/events`` (a surge alert can cite thousands)."""


def fold(batch: Batch, config: RuleConfig) -> Rows:
    """Breaches found, and the reports withdrawn, by the batch."""
    return batch.found, [k for k, s in batch.statuses.items() if s in WITHDRAWN_STATUSES]


async def write(conn: asyncpg.Connection, rows: Rows, config: RuleConfig) -> list[Change]:
    found, withdrawn = rows
    return await upsert_breaches(conn, found) + await withdraw_breaches(conn, withdrawn)


READ_MODEL = ReadModel("breaches", (breaches,), fold, write,
                       after=("events",))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def breach_row(b: Breach) -> dict[str, Any]:
    ref = b.legal_ref
    return {"breach_id": b.breach_id, "rule_id": b.rule_id, "kind": b.kind,
            "severity": b.severity, "title": b.title,
            "legal_ref": None if ref is None else {"code": ref.code, "article": ref.article,
                                                   "part": ref.part, "text": ref.text},
            **evidence(sorted(b.event_ids)), "station_id": b.station_id, "region": b.region,
            "city": b.city, "election_id": b.election_id,
            "occurred_at": b.occurred_at.isoformat(), "status": BREACH_OPEN,
            "detail": None if b.detail is None else dict(b.detail)}


CountKey = tuple[str, str, str, str, str]
"""A row of ``open_breach_counts``: region, rule, severity, code and article (``''`` for none)."""
OPEN_DELTAS: ContextVar[Counter[CountKey] | None] = ContextVar("open_breach_deltas", default=None)
"""The batch's changes to the open-breach counts, gathered while its read models write
breaches and applied once by the roll-ups (``apply_open_deltas``): set by the store for the
length of a batch's writes. Unset, a change is applied at once."""
OLD_KEY = ("COALESCE(region, '') AS count_region, rule_id AS count_rule, "
           "severity AS count_severity, COALESCE(legal_ref->>'code', '') AS count_code, "
           "COALESCE(legal_ref->>'article', '') AS count_article, status AS count_status")
"""A breach row's ``CountKey`` and status, as a statement on ``breaches`` returns them."""


def count_key(b: Breach) -> CountKey:
    ref = b.legal_ref
    return (b.region or "", b.rule_id, b.severity, ref.code if ref else "",
            ref.article if ref else "")


def open_deltas(before: list[tuple[CountKey, str]],
                after: list[tuple[CountKey, str]]) -> Counter[CountKey]:
    """How the open-breach counts move when the breaches ``before`` (key, status) become
    ``after``: each open one before counts -1 at its key, each open one after +1. Pure."""
    deltas: Counter[CountKey] = Counter()
    for key, status in before:
        if status == BREACH_OPEN:
            deltas[key] -= 1
    for key, status in after:
        if status == BREACH_OPEN:
            deltas[key] += 1
    return deltas


def _old(rows: list[asyncpg.Record]) -> list[tuple[CountKey, str]]:
    return [((r["count_region"], r["count_rule"], r["count_severity"], r["count_code"],
              r["count_article"]), r["count_status"]) for r in rows]


async def count_open(conn: asyncpg.Connection, deltas: Counter[CountKey]) -> None:
    """Record ``deltas`` for the batch (or apply them now, outside a batch's writes)."""
    gathered = OPEN_DELTAS.get()
    if gathered is None:
        await apply_open_deltas(conn, deltas)
    else:
        gathered.update(deltas)


async def apply_open_deltas(conn: asyncpg.Connection, deltas: Counter[CountKey]) -> None:
    """Add ``deltas`` to ``open_breach_counts`` (rows in key order, so workers lock them in
    one order), and drop the rows that reach zero: one statement, two when a count ends."""
    moved = sorted((k, d) for k, d in deltas.items() if d)
    if not moved:
        return
    ended = await conn.fetch(
        "INSERT INTO open_breach_counts AS c (region, rule_id, severity, code, article, "
        "breaches) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
        "$5::text[], $6::int[]) ON CONFLICT (rule_id, region, severity, code, article) "
        "DO UPDATE SET breaches = c.breaches + EXCLUDED.breaches "
        "RETURNING region, rule_id, severity, code, article, breaches",
        *columns([(*k, d) for k, d in moved]))
    zero = [tuple(r)[:5] for r in ended if r["breaches"] == 0]
    if zero:
        await conn.execute(
            "DELETE FROM open_breach_counts WHERE breaches = 0 AND (region, rule_id, severity, "
            "code, article) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[], $5::text[]))", *columns(zero))


BREACH_COLUMNS = ("$1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
                  "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
                  "$12::timestamptz[], $13::text[]")
INSERT_NEW = (
    "INSERT INTO breaches (breach_id, rule_id, kind, severity, title, legal_ref, event_ids, "
    "station_id, region, city, election_id, occurred_at, status, detail) "
    "SELECT id, rule, kind, sev, title, ref::jsonb, ids::jsonb, st, reg, city, el, at, "
    f"$14, det::jsonb FROM unnest({BREACH_COLUMNS}) "
    "AS b(id, rule, kind, sev, title, ref, ids, st, reg, city, el, at, det) "
    "ON CONFLICT (breach_id) DO NOTHING RETURNING breach_id::text AS id")
UPDATE_KNOWN = (
    "UPDATE breaches AS b SET kind = i.kind, severity = i.sev, title = i.title, "
    "legal_ref = i.ref::jsonb, event_ids = i.ids::jsonb, station_id = i.st, region = i.reg, "
    "city = i.city, election_id = i.el, occurred_at = i.at, status = $14, detail = i.det::jsonb "
    f"FROM unnest({BREACH_COLUMNS}) "
    "AS i(id, rule, kind, sev, title, ref, ids, st, reg, city, el, at, det), "
    f"(SELECT breach_id, {OLD_KEY} FROM breaches "
    "WHERE breach_id = ANY($1::uuid[]) ORDER BY breach_id FOR UPDATE) AS o "
    "WHERE b.breach_id = i.id AND o.breach_id = i.id "
    "RETURNING b.breach_id::text AS id, o.count_region, o.count_rule, o.count_severity, "
    "o.count_code, o.count_article, o.count_status")


async def upsert_breaches(conn: asyncpg.Connection, found: list[Breach],
                          status: str = BREACH_OPEN) -> list[Change]:
    """Insert breaches; an existing breach with the same id takes the new content whole.

    New ones are inserted, known ones updated with their row locked and its previous state
    read in the same statement, so the open-breach counts move by exactly what changed, even
    with another worker writing the same breach (a row it inserts meanwhile is updated on the
    next round)."""
    if not found:
        return []
    by_id = {b.breach_id: b for b in found}  # one row per id: the last evidence wins
    latest = [by_id[i] for i in sorted(by_id)]
    rows = [breach_row(b) for b in latest]
    params = {b.breach_id: (uuid.UUID(b.breach_id), b.rule_id, b.kind, b.severity, b.title,
                            _json(row["legal_ref"]), _json(sorted(b.event_ids)),
                            b.station_id, b.region, b.city, b.election_id, b.occurred_at,
                            None if b.detail is None else _json(b.detail))
              for b, row in zip(latest, rows, strict=True)}
    deltas: Counter[CountKey] = Counter()
    pending = sorted(params)
    while pending:
        inserted = {r["id"] for r in await conn.fetch(
            INSERT_NEW, *columns([params[i] for i in pending]), status)}
        deltas.update(open_deltas([], [(count_key(by_id[i]), status) for i in inserted]))
        known = [i for i in pending if i not in inserted]
        updated = await conn.fetch(UPDATE_KNOWN, *columns([params[i] for i in known]),
                                   status) if known else []
        deltas.update(open_deltas(_old(updated),
                                  [(count_key(by_id[r["id"]]), status) for r in updated]))
        pending = sorted(set(known) - {r["id"] for r in updated})  # deleted meanwhile
    await count_open(conn, deltas)
    kind = "breach" if status == BREACH_OPEN else "breach_withdrawn"
    return [{"kind": kind, "region": b.region, "station_id": b.station_id,
             "data": {**row, "status": status}} for b, row in zip(latest, rows, strict=True)]


async def delete_breaches(conn: asyncpg.Connection, ids: list[str]) -> None:
    """Delete the breaches ``ids`` (alerts their figures no longer support)."""
    if ids:
        gone = await conn.fetch(f"DELETE FROM breaches WHERE breach_id = ANY($1::uuid[]) "
                                f"RETURNING {OLD_KEY}", ids)
        await count_open(conn, open_deltas(_old(gone), []))


async def withdraw_breaches(conn: asyncpg.Connection, event_ids: list[uuid.UUID]) -> list[Change]:
    """Breaches the withdrawn reports alone supported (``rules.withdrawn_by``) are withdrawn."""
    if not event_ids:
        return []
    gone = [str(e) for e in event_ids]
    candidates = await conn.fetch("SELECT breach_id, event_ids::text AS ids FROM breaches "
                                  "WHERE status = $2 AND event_ids ?| $1::text[]",
                                  gone, BREACH_OPEN)
    ids = [r["breach_id"] for r in candidates
           if any(withdrawn_by(e, orjson.loads(r["ids"])) for e in gone)]
    rows = await conn.fetch(
        "UPDATE breaches SET status = $2 WHERE breach_id = ANY($1::uuid[]) AND status = $3 "
        f"RETURNING breach_id, rule_id, region, station_id, {OLD_KEY}",
        sorted(ids), BREACH_WITHDRAWN, BREACH_OPEN)
    # RETURNING shows the new status: every row returned was open before this statement
    await count_open(conn, open_deltas([(key, BREACH_OPEN) for key, _ in _old(rows)], []))
    return [{"kind": "breach_withdrawn", "region": r["region"], "station_id": r["station_id"],
             "data": {"breach_id": str(r["breach_id"]), "rule_id": r["rule_id"]}} for r in rows]


SHOWN_EVIDENCE = (f"jsonb_path_query_array(event_ids, 'lax $[0 to {EVIDENCE_SHOWN - 1}]')"
                  "::text AS event_ids, jsonb_array_length(event_ids) AS evidence_count")
LIST_BREACHES = f"""
SELECT breach_id, rule_id, kind, severity, title, legal_ref::text AS legal_ref, {SHOWN_EVIDENCE},
       station_id, region, city, election_id, occurred_at, status, detail::text AS detail
FROM breaches
WHERE ($1::text IS NULL OR rule_id = $1) AND ($2::text IS NULL OR severity = $2)
  AND ($3::text IS NULL OR region = $3) AND ($4::timestamptz IS NULL OR occurred_at >= $4)
  AND ($5::text IS NULL OR status = $5)
  AND ($7::timestamptz IS NULL OR (occurred_at, breach_id) < ($7, $8))
ORDER BY occurred_at DESC, breach_id DESC LIMIT $6
"""
LIST_BREACHES_OF = LIST_BREACHES.replace("ORDER BY", "  AND region = ANY($9::text[])\nORDER BY")
"""A regional principal's page: the same, of her regions only."""


async def list_breaches(conn: asyncpg.Connection, rule: str | None, severity: str | None,
                        region: str | None, since: datetime | None, status: str | None,
                        limit: int, after: tuple[Any, ...] | None = None,
                        within: list[str] | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
    """A keyset page of breaches, newest first by (occurred_at, breach_id): both fixed for
    a breach, so breaches found while a client pages never shift its pages (index
    ``breaches_newest``); ``within``: of these regions only."""
    args = (rule, severity, region, since, status, limit + 1, *(after or (None, None)))
    rows = await (conn.fetch(LIST_BREACHES, *args) if within is None
                  else conn.fetch(LIST_BREACHES_OF, *args, within))
    shown, next_cursor = paging.page("breaches", rows, limit,
                                     lambda r: [r["occurred_at"], r["breach_id"]])
    return [breach_public(r) for r in shown], next_cursor


def evidence(event_ids: list[str]) -> dict[str, Any]:
    """The first ``EVIDENCE_SHOWN`` ids and how many there are."""
    return {"event_ids": event_ids[:EVIDENCE_SHOWN], "evidence_count": len(event_ids)}


def breach_public(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["legal_ref"] = orjson.loads(out["legal_ref"]) if out["legal_ref"] else None
    out["event_ids"] = orjson.loads(out["event_ids"])
    if "detail" in out:
        out["detail"] = orjson.loads(out["detail"]) if out["detail"] else None
    out["place"] = {"region": out.pop("region"), "city": out.pop("city")}
    return out


BREACH_EVIDENCE = """
SELECT x.id AS event_id, e.type, e.occurred_at, e.station_id, e.status
FROM breaches b CROSS JOIN LATERAL jsonb_array_elements_text(b.event_ids) AS x(id)
LEFT JOIN events e ON e.event_id = x.id::uuid
WHERE b.breach_id = $1 AND ($3::text IS NULL OR x.id > $3) ORDER BY x.id LIMIT $2
"""


async def breach_evidence(conn: asyncpg.Connection, breach_id: uuid.UUID, limit: int,
                          after: str | None = None,
                          within: list[str] | None = None) -> dict[str, Any] | None:
    """A keyset page of the events a breach cites, by event id, with type, time, station and
    triage status; None if there is no such breach (or it is not of ``within``'s regions)."""
    found = await conn.fetchrow("SELECT jsonb_array_length(event_ids) AS count, region "
                                "FROM breaches WHERE breach_id = $1", breach_id)
    if found is None or (within is not None and found["region"] not in within):
        return None
    rows = await conn.fetch(BREACH_EVIDENCE, breach_id, limit + 1, after)
    shown, next_cursor = paging.page("breach_events", rows, limit, lambda r: [r["event_id"]])
    return {"breach_id": str(breach_id), "evidence_count": found["count"],
            "events": [dict(r) for r in shown], "next": next_cursor}
