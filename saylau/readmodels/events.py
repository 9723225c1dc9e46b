"""The stored events: every applied event exactly as appended, with its triage status."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import (
    ABOUT_A_REPORT,
    DETENTION_REPORTED,
    STATION_REGISTERED,
    TARGETING,
    UNKNOWN_REGION,
    UNSPECIFIED_CITY,
    UNVERIFIED,
)
from saylau.log.decode import Decoded
from saylau.privacy.records import Names
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.store import paging
from saylau.store.ddl import READ, table

events = table(
    "events", READ,
    Column("event_id", UUID, primary_key=True),
    Column("type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("partner", Text),
    Column("station_id", Text),
    Column("region", Text),
    Column("city", Text),
    Column("election_id", Text),  # the envelope's, else its calendar's (Calendars.election_of)
    Column("status", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("record", JSONB, nullable=False),
    Index("events_station_time", "station_id", "occurred_at", "event_id"),
    # the timeline's latest_report_at, in its ORDER BY's order: a batch of events shares its
    # received_at, and with received_at alone the top row needed a sort of all the ties
    Index("events_received", "received_at", "occurred_at"),
)
Index("events_detentions_place", func.coalesce(events.c.region, UNKNOWN_REGION),
      func.coalesce(events.c.city, UNSPECIFIED_CITY), events.c.occurred_at,
      postgresql_where=events.c.type == DETENTION_REPORTED)
"""The detention reports of a city in a time window (``surges.SURGE_EVIDENCE``, a batch's
detention buckets): without it each surge a batch touched read the whole log."""
Index("events_registrations", events.c.election_id, events.c.station_id,
      postgresql_where=events.c.type == STATION_REGISTERED)
"""The stations registered for an election (``saylau.readmodels.maps``: the map of an
election), without reading the log."""
COLUMNS = ("event_id", "type", "schema_version", "occurred_at", "received_at", "partner",
           "station_id", "region", "city", "election_id", "status", "kafka_partition",
           "kafka_offset", "record")
Rows = tuple[list[tuple[Any, ...]], dict[uuid.UUID, str]]


def fold(batch: Batch, config: RuleConfig) -> Rows:
    """A row per new event, and the new statuses of earlier reports."""
    return [_row(d, batch) for d in batch.applied], batch.statuses


def _row(d: Decoded, batch: Batch) -> tuple[Any, ...]:
    """An event's row; ``region``: its place's, or that of the report it is about
    (``Batch.region_of``), so a regional reader's filter holds its triage and evidence."""
    e = d.event
    status = (ABOUT_A_REPORT if e.type in TARGETING
              else batch.statuses.get(e.event_id, UNVERIFIED))
    return (e.event_id, e.type, e.schema_version, e.occurred_at,
            received_at(d.record), d.record.get("partner"),
            e.station_id, batch.region_of(e), e.city,
            batch.calendars.election_of(e.election_id, e.occurred_at),
            status, d.message.partition, d.message.offset, d.message.value.decode())


def received_at(record: dict[str, Any]) -> datetime | None:
    """When ingest accepted the event (stamped on the stored record)."""
    received = record.get("received_at")
    return received and datetime.fromisoformat(received)


async def write(conn: asyncpg.Connection, rows: Rows, config: RuleConfig) -> list[Change]:
    new, statuses = rows
    if new:
        await conn.copy_records_to_table("events", records=new, columns=COLUMNS)
    if statuses:
        await conn.execute(
            "UPDATE events e SET status = s.status FROM unnest($1::uuid[], $2::text[]) "
            "AS s(id, status) WHERE e.event_id = s.id", list(statuses), list(statuses.values()))
    return []


READ_MODEL = ReadModel("events", (events,), fold, write)

REGION_OF_EVENT = """COALESCE(e.region,
  (SELECT r.region FROM station_registry r WHERE r.station_id = e.station_id),
  (SELECT s.region FROM stations s WHERE s.station_id = e.station_id))"""
"""The region a stored event ``e`` belongs to, as a reader bound to regions sees it: its own
(or, for an event of no place of its own, what it points at's), else its station's (the
registry's, else what the station's reports named): an observer's report names only its
station. None: an event of no place at all, national."""


async def known_event_ids(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])", ids)
    return {r["event_id"] for r in rows}


async def fetch_records(conn: asyncpg.Connection, ids: list[uuid.UUID]
                        ) -> list[tuple[uuid.UUID, bytes, str, str | None]]:
    """Stored events by id: the record as appended, its status and its region."""
    rows = await conn.fetch("SELECT event_id, record::text AS record, status, region "
                            "FROM events WHERE event_id = ANY($1::uuid[])", ids)
    return [(r["event_id"], r["record"].encode(), r["status"], r["region"]) for r in rows]


EVENT = ("SELECT record::text AS record, status, kafka_partition, kafka_offset "
         "FROM events e WHERE event_id = $1")
EVENT_OF = EVENT.replace(" FROM", f", {REGION_OF_EVENT} AS region FROM")


async def event(conn: asyncpg.Connection, event_id: Any, names: Names,
                within: list[str] | None = None) -> dict[str, Any] | None:
    """One stored event; None when unknown, or not of ``within``'s regions (an event of no
    region at all is national)."""
    row = await conn.fetchrow(EVENT if within is None else EVENT_OF, event_id)
    if row is None or (within is not None and row["region"] not in within):
        return None
    [record] = await shown_records([row["record"]], names)
    return {"record": record, "status": row["status"],
            "partition": row["kafka_partition"], "offset": row["kafka_offset"]}


STATION_TIMELINE = """
SELECT record::text AS record, status, occurred_at, event_id FROM events
WHERE station_id = $1 AND ($3::timestamptz IS NULL OR (occurred_at, event_id) > ($3, $4))
ORDER BY occurred_at, event_id LIMIT $2
"""


async def station_timeline(conn: asyncpg.Connection, station_id: str, names: Names, limit: int,
                           after: tuple[Any, ...] | None = None
                           ) -> tuple[list[dict[str, Any]], str | None]:
    """A keyset page of the reports about a station, by (occurred_at, event_id): both fixed
    for an event, so reports arriving meanwhile never shift the pages (index
    ``events_station_time``)."""
    rows = await conn.fetch(STATION_TIMELINE, station_id, limit + 1, *(after or (None, None)))
    shown, next_cursor = paging.page("station_timeline", rows, limit,
                                     lambda r: [r["occurred_at"], r["event_id"]])
    records = await shown_records([r["record"] for r in shown], names)
    return [{**record, "status": r["status"]}
            for record, r in zip(records, shown, strict=True)], next_cursor


async def shown_records(texts: list[str], names: Names) -> list[dict[str, Any]]:
    """The records as appended (names sealed), as this reader may see them: names opened
    for auditors and admins (one key fetch for all), ``"[redacted]"`` for everyone else."""
    return await names.show([orjson.loads(text) for text in texts])


WITH_TEXT_PAGE = """
SELECT event_id, record::text AS record FROM {events}
WHERE (type = ANY($1::text[]) OR record ? 'evidence') AND ($2::uuid IS NULL OR event_id > $2)
ORDER BY event_id LIMIT $3
"""


def events_in(schema: str) -> str:
    """The ``events`` table of a read schema, quoted (for a pool on another search path)."""
    return '"{}".events'.format(schema.replace('"', '""'))


async def records_with_text(conn: asyncpg.Connection, schema: str, types: list[str],
                            page: int = 2000) -> AsyncIterator[list[dict[str, Any]]]:
    """Every stored record (as appended) of ``types`` or with evidence files (whose captions
    are free text), in pages by event id: what ``saylau erase --name`` searches."""
    query, after = WITH_TEXT_PAGE.format(events=events_in(schema)), None
    while rows := await conn.fetch(query, types, after, page):
        yield [orjson.loads(r["record"]) for r in rows]
        after = rows[-1]["event_id"]


async def stored_record(conn: asyncpg.Connection, schema: str,
                        event_id: uuid.UUID) -> dict[str, Any] | None:
    """One event's record as appended, or None when the read models do not hold it."""
    text = await conn.fetchval(f"SELECT record::text FROM {events_in(schema)} "
                               "WHERE event_id = $1", event_id)
    return None if text is None else orjson.loads(text)  # type: ignore[no-any-return]


async def sealed_with(conn: asyncpg.Connection, key_ids: list[str]) -> list[dict[str, Any]]:
    """The events holding a value sealed under one of ``key_ids`` (found by the blind index,
    ``saylau find``): id, type, when, where; oldest first."""
    if not key_ids:
        return []
    patterns = ["%enc:v1:" + k.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
                + ":%" for k in key_ids]
    rows = await conn.fetch(
        "SELECT event_id, type, occurred_at, station_id, region, city FROM events "
        "WHERE record::text LIKE ANY($1::text[]) ORDER BY occurred_at, event_id", patterns)
    return [dict(r) for r in rows]


EXPORT_PAGE = """
SELECT kafka_partition, kafka_offset, occurred_at, event_id, record::text AS record, status
FROM events e
WHERE ($1::text[] IS NULL OR {region} = ANY($1::text[]))
  AND ($2::timestamptz IS NULL OR (occurred_at, event_id) > ($2, $3))
ORDER BY occurred_at, event_id LIMIT $4
"""


async def export_pages(pool: asyncpg.Pool, names: Names, within: list[str] | None,
                       page: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
    """Every stored event (of ``within``'s regions only, when given; one of no region is
    national) in occurred order, a page at a time, each as ``{partition, offset, record,
    status}`` with names as ``names`` shows them. A connection is held per page only."""
    after: tuple[Any, Any] = (None, None)
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(EXPORT_PAGE.format(region=REGION_OF_EVENT), within,
                                    *after, page)
        if not rows:
            return
        records = await shown_records([r["record"] for r in rows], names)
        yield [{"partition": r["kafka_partition"], "offset": r["kafka_offset"],
                "record": record, "status": r["status"]}
               for r, record in zip(rows, records, strict=True)]
        after = (rows[-1]["occurred_at"], rows[-1]["event_id"])
