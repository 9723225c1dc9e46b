"""The read side: queries behind the monitoring API, all parameterised."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from saylau.fieldwork import TRIAGE_ACTIONS
from saylau.projection import TRIAGE_REPORTS
from saylau.queries_field import triage_summaries, triage_summary
from saylau.sql import detained_now

REGISTRY_TYPES = ("station.registered", "station.moved", "observer.accredited",
                  "observer.accreditation_revoked", "turnout.announced")
NOT_REPORTS = (*TRIAGE_REPORTS, *TRIAGE_ACTIONS, "message.received", *REGISTRY_TYPES)
"""Types about reports (triage, raw inbound messages) or registries and official figures,
not reports of what happened."""
PERSONAL_FIELDS = ("persons", "names", "sender", "name")
REDACTED = "[redacted]"


async def station(conn: asyncpg.Connection, station_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM stations WHERE station_id = $1", station_id)
    if row is None:
        return None
    incidents = await conn.fetch("SELECT type, reports FROM station_incidents "
                                 "WHERE station_id = $1 AND reports <> 0 ORDER BY type",
                                 station_id)
    distinct = await conn.fetchval("SELECT count(*) FROM incident_groups "
                                   "WHERE station_id = $1", station_id)
    return {"station_id": station_id, "region": row["region"], "city": row["city"],
            "incidents": {r["type"]: r["reports"] for r in incidents}, "total": row["total"],
            "distinct_incidents": distinct, "last_event_at": row["last_event_at"]}


async def station_timeline(conn: asyncpg.Connection, station_id: str,
                           redact: bool) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT record::text AS record, status FROM events "
                            "WHERE station_id = $1 ORDER BY occurred_at, event_id", station_id)
    return [{**shown_record(r["record"], redact), "status": r["status"]} for r in rows]


async def stations(conn: asyncpg.Connection, region: str | None,
                   limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT station_id, region, city, total, last_event_at FROM stations "
        "WHERE ($1::text IS NULL OR region = $1) AND total > 0 "
        "ORDER BY total DESC, station_id LIMIT $2", region, limit)
    return [dict(r) for r in rows]


async def detentions(conn: asyncpg.Connection, as_of: datetime | None) -> dict[str, Any]:
    """Detention counts per city, now or as they stood at ``as_of`` (by occurred_at)."""
    if as_of is None:
        rows = await conn.fetch("SELECT region, city, detained_total, released_total "
                                "FROM city_detentions ORDER BY region, city")
    else:
        rows = await conn.fetch(AS_OF_DETENTIONS, as_of)
    cities = [{**dict(r), "detained_now": detained_now(r["detained_total"], r["released_total"])}
              for r in rows if r["detained_total"] or r["released_total"]]
    return {"cities": cities, "detained_total": sum(c["detained_total"] for c in cities),
            "detained_now": sum(c["detained_now"] for c in cities), "as_of": as_of}


AS_OF_DETENTIONS = """
SELECT COALESCE(region, '(unknown)') AS region, COALESCE(city, '(unspecified)') AS city,
  COALESCE(SUM(CASE WHEN type = 'detention.reported'
                    THEN (record->'payload'->>'count')::int END), 0)::int AS detained_total,
  COALESCE(SUM(CASE WHEN type = 'detention.released'
                    THEN (record->'payload'->>'count')::int END), 0)::int AS released_total
FROM events
WHERE type IN ('detention.reported', 'detention.released') AND occurred_at <= $1
  AND NOT EXISTS (SELECT 1 FROM events r WHERE r.type IN ('report.retracted', 'report.rejected')
                  AND r.record->'payload'->>'event_id' = events.event_id::text
                  AND r.occurred_at <= $1)
GROUP BY 1, 2 ORDER BY 1, 2
"""


async def breaches(conn: asyncpg.Connection, rule: str | None, severity: str | None,
                   region: str | None, since: datetime | None,
                   status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM breaches WHERE ($1::text IS NULL OR rule_id = $1) "
        "AND ($2::text IS NULL OR severity = $2) AND ($3::text IS NULL OR region = $3) "
        "AND ($4::timestamptz IS NULL OR occurred_at >= $4) "
        "AND ($5::text IS NULL OR status = $5) "
        "ORDER BY occurred_at DESC, breach_id LIMIT $6",
        rule, severity, region, since, status, limit)
    return [breach_public(r) for r in rows]


def breach_public(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["legal_ref"] = orjson.loads(out["legal_ref"]) if out["legal_ref"] else None
    out["event_ids"] = orjson.loads(out["event_ids"])
    out["place"] = {"region": out.pop("region"), "city": out.pop("city")}
    return out


async def breach_summary(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT rule_id, severity, legal_ref->>'code' AS code, legal_ref->>'article' AS article,"
        " count(*) AS breaches FROM breaches WHERE status = 'open' "
        "GROUP BY 1, 2, 3, 4 ORDER BY breaches DESC, rule_id")
    return [dict(r) for r in rows]


async def regions(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("""
        SELECT region, sum(stations)::int AS stations_with_incidents,
               sum(incidents)::int AS incidents, sum(detained_total)::int AS detained_total,
               sum(detained_now)::int AS detained_now, sum(breaches)::int AS open_breaches
        FROM (
          SELECT region, count(*) FILTER (WHERE total > 0) AS stations, sum(total) AS incidents,
                 0 AS detained_total, 0 AS detained_now, 0 AS breaches
            FROM stations GROUP BY region
          UNION ALL SELECT region, 0, 0, sum(detained_total),
                 sum(GREATEST(detained_total - released_total, 0)), 0
            FROM city_detentions GROUP BY region
          UNION ALL SELECT region, 0, 0, 0, 0, count(*) FROM breaches
            WHERE status = 'open' GROUP BY region) t
        WHERE region IS NOT NULL GROUP BY region ORDER BY region""")
    return [dict(r) for r in rows]


TRIAGE_QUEUE = """
SELECT e.event_id, e.record::text AS record FROM events e
WHERE e.status = 'unverified' AND e.type <> ALL($2::text[])
ORDER BY NOT EXISTS (SELECT 1 FROM triage_actions a
                     WHERE a.report_id = e.event_id AND a.kind = 'escalated'),
         e.received_at, e.event_id
LIMIT $1
"""


async def triage_queue(conn: asyncpg.Connection, limit: int, redact: bool) -> list[dict[str, Any]]:
    """Unverified reports, urgent ones first, each with its claim, escalations and comments."""
    rows = await conn.fetch(TRIAGE_QUEUE, limit, list(NOT_REPORTS))
    handled = await triage_summaries(conn, [r["event_id"] for r in rows])
    return [{**shown_record(r["record"], redact),
             "triage": handled.get(r["event_id"], triage_summary([]))} for r in rows]


async def event(conn: asyncpg.Connection, event_id: Any,
                redact: bool) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT record::text AS record, status, kafka_partition, "
                              "kafka_offset FROM events WHERE event_id = $1", event_id)
    if row is None:
        return None
    return {"record": shown_record(row["record"], redact), "status": row["status"],
            "partition": row["kafka_partition"], "offset": row["kafka_offset"]}


def shown_record(text: str, redact: bool) -> dict[str, Any]:
    """The record as appended; names of detained people and observers hidden unless allowed."""
    record: dict[str, Any] = orjson.loads(text)
    if redact:
        payload = record.get("payload", {})
        for name in PERSONAL_FIELDS:
            if isinstance(payload.get(name), (str, list)):  # names; a head count stays
                payload[name] = REDACTED
    return record


async def changes_after(conn: asyncpg.Connection, cursor: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT cursor, kind, region, station_id, data::text AS data "
                            "FROM changes WHERE cursor > $1 ORDER BY cursor LIMIT $2",
                            cursor, limit)
    return [dict(r) for r in rows]


async def last_cursor(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT value FROM change_cursor WHERE id = 1") or 0)


REPORT_TIMELINE = """
SELECT to_timestamp(floor(extract(epoch FROM occurred_at) / $1) * $1) AS start,
       count(*)::int AS reports
FROM events WHERE type <> ALL($2::text[]) GROUP BY 1 ORDER BY 1 DESC LIMIT $3
"""
LATEST_REPORT = """SELECT occurred_at FROM events WHERE type <> ALL($1::text[])
ORDER BY received_at DESC, occurred_at DESC LIMIT 1"""


async def report_timeline(conn: asyncpg.Connection, bucket_minutes: int,
                          limit: int) -> dict[str, Any]:
    """Reports per ``bucket_minutes`` of occurred_at, the latest ``limit`` buckets, and when
    the report received last happened (where a chart of recent activity should end).

    Triage reports (verified / retracted / rejected) judge other reports and are not counted.
    ``cursor`` is read in the same snapshot, so a live client resuming from it neither
    misses nor double-counts a report.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await last_cursor(conn)
        rows = await conn.fetch(REPORT_TIMELINE, bucket_minutes * 60,
                                list(NOT_REPORTS), limit)
        latest = await conn.fetchval(LATEST_REPORT, list(NOT_REPORTS))
    return {"bucket_minutes": bucket_minutes, "cursor": cursor, "latest_report_at": latest,
            "not_counted": sorted(NOT_REPORTS),
            "buckets": [dict(r) for r in reversed(rows)]}
