"""Reports per time bucket (the dashboard's chart), from per-minute counts the projection
keeps, so a chart costs the buckets it shows, not the size of the log: the whole country's,
and each region's (a coordinator's chart holds her regions' reports only)."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Integer, PrimaryKeyConstraint, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import NOT_REPORTS
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.changefeed import last_cursor
from saylau.store.ddl import READ, table

report_minutes = table(
    "report_minutes", READ,
    Column("minute", DateTime(timezone=True), primary_key=True),
    Column("reports", Integer, nullable=False),
)
region_report_minutes = table(
    "region_report_minutes", READ,
    Column("region", Text, nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("reports", Integer, nullable=False),
    PrimaryKeyConstraint("region", "minute"),
)
"""The same counts per region (reports naming no region count nationally only)."""
Minutes = tuple[Counter[datetime], Counter[tuple[str, datetime]]]


def minute_of(at: datetime) -> datetime:
    """The UTC minute an instant falls in (every bucket of whole minutes is a union of
    these, as buckets start at multiples of their width since the epoch)."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def fold(batch: Batch, config: RuleConfig) -> Minutes:
    """Reports per minute of occurred_at, in all and per region. Triage reports (verified /
    retracted / rejected) judge other reports, registries register: neither is counted."""
    reports = [d.event for d in batch.applied if d.event.type not in NOT_REPORTS]
    return (Counter(minute_of(e.occurred_at) for e in reports),
            Counter((e.region, minute_of(e.occurred_at)) for e in reports if e.region))


async def write(conn: asyncpg.Connection, rows: Minutes, config: RuleConfig) -> list[Change]:
    national, regional = rows
    if national:
        minutes = sorted(national)
        await conn.execute(
            "INSERT INTO report_minutes AS m (minute, reports) "
            "SELECT * FROM unnest($1::timestamptz[], $2::int[]) ON CONFLICT (minute) "
            "DO UPDATE SET reports = m.reports + EXCLUDED.reports",
            minutes, [national[m] for m in minutes])
    if regional:
        keys = sorted(regional)
        await conn.execute(
            "INSERT INTO region_report_minutes AS m (region, minute, reports) "
            "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[]) "
            "ON CONFLICT (region, minute) DO UPDATE SET reports = m.reports + EXCLUDED.reports",
            [k[0] for k in keys], [k[1] for k in keys], [regional[k] for k in keys])
    return []


READ_MODEL = ReadModel("timeline", (report_minutes, region_report_minutes), fold, write,
                       after=("events",))

REPORT_TIMELINE = """
SELECT to_timestamp(floor(extract(epoch FROM minute) / $1::int) * $1::int) AS start,
       sum(reports)::int AS reports
FROM (SELECT minute, reports FROM report_minutes
      ORDER BY minute DESC LIMIT $2::int * ($1::int / 60)) m
GROUP BY 1 ORDER BY 1 DESC LIMIT $2
"""
"""The latest ``limit`` buckets lie within the latest ``limit × bucket_minutes`` minutes that
have reports (each bucket holds at least one), read backwards on the primary key."""
REGION_REPORT_TIMELINE = """
SELECT to_timestamp(floor(extract(epoch FROM minute) / $1::int) * $1::int) AS start,
       sum(reports)::int AS reports
FROM (SELECT minute, sum(reports) AS reports FROM (
        SELECT minute, reports FROM region_report_minutes WHERE region = ANY($3::text[])
        ORDER BY minute DESC LIMIT $2::int * ($1::int / 60) * cardinality($3::text[])) r
      GROUP BY minute ORDER BY minute DESC LIMIT $2::int * ($1::int / 60)) m
GROUP BY 1 ORDER BY 1 DESC LIMIT $2
"""
"""``REPORT_TIMELINE`` over the regions ``$3`` (each region's latest minutes, read backwards
on the primary key, hold every one of the latest minutes their sum has)."""
LATEST_REPORT = """SELECT occurred_at FROM events WHERE type <> ALL($1::text[])
ORDER BY received_at DESC, occurred_at DESC LIMIT 1"""
LATEST_REGION_REPORT = LATEST_REPORT.replace("ORDER BY", "AND region = ANY($2::text[])\nORDER BY")


async def report_timeline(conn: asyncpg.Connection, bucket_minutes: int, limit: int,
                          within: list[str] | None = None) -> dict[str, Any]:
    """Reports per ``bucket_minutes`` of occurred_at, the latest ``limit`` buckets, and when
    the report received last happened (where a chart of recent activity should end);
    ``within``: of these regions' reports only.

    ``cursor`` is read in the same snapshot, so a live client resuming from it neither
    misses nor double-counts a report.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await last_cursor(conn)
        if within is None:
            rows = await conn.fetch(REPORT_TIMELINE, bucket_minutes * 60, limit)
            latest = await conn.fetchval(LATEST_REPORT, list(NOT_REPORTS))
        else:
            rows = await conn.fetch(REGION_REPORT_TIMELINE, bucket_minutes * 60, limit, within)
            latest = await conn.fetchval(LATEST_REGION_REPORT, list(NOT_REPORTS), within)
    return {"bucket_minutes": bucket_minutes, "cursor": cursor, "latest_report_at": latest,
            "not_counted": sorted(NOT_REPORTS),
            "buckets": [dict(r) for r in reversed(rows)]}
