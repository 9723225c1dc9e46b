"""Reports per time bucket (the dashboard's chart), from the stored events; no tables."""
from __future__ import annotations

from typing import Any

import asyncpg

from saylau.domain.vocabulary import NOT_REPORTS
from saylau.readmodels.base import ReadModel
from saylau.readmodels.changefeed import last_cursor

READ_MODEL = ReadModel("timeline")

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
