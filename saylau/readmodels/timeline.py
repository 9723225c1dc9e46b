"""Reports per time bucket (the dashboard's chart), from per-minute counts the projection
keeps, so a chart costs the buckets it shows, not the size of the log."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Integer

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


def minute_of(at: datetime) -> datetime:
    """The UTC minute an instant falls in (every bucket of whole minutes is a union of
    these, as buckets start at multiples of their width since the epoch)."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def fold(batch: Batch, config: RuleConfig) -> Counter[datetime]:
    """Reports per minute of occurred_at. Triage reports (verified / retracted / rejected)
    judge other reports, registries register: neither is counted."""
    return Counter(minute_of(d.event.occurred_at) for d in batch.applied
                   if d.event.type not in NOT_REPORTS)


async def write(conn: asyncpg.Connection, rows: Counter[datetime],
                config: RuleConfig) -> list[Change]:
    if rows:
        minutes = sorted(rows)
        await conn.execute(
            "INSERT INTO report_minutes AS m (minute, reports) "
            "SELECT * FROM unnest($1::timestamptz[], $2::int[]) ON CONFLICT (minute) "
            "DO UPDATE SET reports = m.reports + EXCLUDED.reports",
            minutes, [rows[m] for m in minutes])
    return []


READ_MODEL = ReadModel("timeline", (report_minutes,), fold, write,
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
LATEST_REPORT = """SELECT occurred_at FROM events WHERE type <> ALL($1::text[])
ORDER BY received_at DESC, occurred_at DESC LIMIT 1"""


async def report_timeline(conn: asyncpg.Connection, bucket_minutes: int,
                          limit: int) -> dict[str, Any]:
    """Reports per ``bucket_minutes`` of occurred_at, the latest ``limit`` buckets, and when
    the report received last happened (where a chart of recent activity should end).

    ``cursor`` is read in the same snapshot, so a live client resuming from it neither
    misses nor double-counts a report.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await last_cursor(conn)
        rows = await conn.fetch(REPORT_TIMELINE, bucket_minutes * 60, limit)
        latest = await conn.fetchval(LATEST_REPORT, list(NOT_REPORTS))
    return {"bucket_minutes": bucket_minutes, "cursor": cursor, "latest_report_at": latest,
            "not_counted": sorted(NOT_REPORTS),
            "buckets": [dict(r) for r in reversed(rows)]}
