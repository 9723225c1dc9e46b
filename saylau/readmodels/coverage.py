"""Coverage: per station, the observers assigned and present, the last report and whether it
has fallen silent; per region, the totals.

Its table keeps when each station was last heard from (the ``received_at`` of its latest
report, checklist or arrival); who is assigned and present come from the observers and
presence read models; ``silent`` depends on the clock, so it is decided when asked
(``saylau.domain.coverage.is_silent``), never stored.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.calendar import Election
from saylau.domain.coverage import is_silent
from saylau.domain.vocabulary import SIGNS_OF_LIFE_EXCLUDED
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.events import received_at
from saylau.store.ddl import READ, table

station_reports = table(
    "station_reports", READ,
    Column("station_id", Text, primary_key=True),
    Column("last_report_at", DateTime(timezone=True), nullable=False),
)

LastReports = dict[str, datetime]


def fold(batch: Batch, config: RuleConfig) -> LastReports:
    """Each station's latest report in the batch, by when ingest received it."""
    last: LastReports = {}
    for d in batch.applied:
        e = d.event
        if e.station_id and e.type not in SIGNS_OF_LIFE_EXCLUDED:
            at = received_at(d.record) or e.occurred_at
            last[e.station_id] = max(at, last.get(e.station_id, at))
    return last


async def write(conn: asyncpg.Connection, rows: LastReports, config: RuleConfig
                ) -> list[Change]:
    if rows:
        ids = sorted(rows)
        await conn.execute(
            "INSERT INTO station_reports AS r (station_id, last_report_at) SELECT * FROM "
            "unnest($1::text[], $2::timestamptz[]) ON CONFLICT (station_id) DO UPDATE SET "
            "last_report_at = GREATEST(r.last_report_at, EXCLUDED.last_report_at)",
            ids, [rows[i] for i in ids])
    return []


READ_MODEL = ReadModel("coverage", (station_reports,), fold, write)

COVERAGE = """
WITH mine AS (SELECT observer_id, station_id, assigned_station_ids FROM observers
              WHERE accredited AND election_id = $1),
assigned AS (SELECT s AS station_id, count(DISTINCT observer_id)::int AS n FROM mine
             CROSS JOIN LATERAL unnest(array_append(assigned_station_ids, station_id)) AS s
             WHERE s IS NOT NULL GROUP BY s),
present AS (SELECT p.station_id, count(*)::int AS n FROM presence p
            JOIN mine USING (observer_id) WHERE p.present GROUP BY p.station_id),
k AS (SELECT station_id FROM station_registry UNION SELECT station_id FROM assigned
      UNION SELECT station_id FROM present)
SELECT k.station_id, r.number, COALESCE(r.region, s.region) AS region,
       COALESCE(r.city, s.city) AS city, COALESCE(a.n, 0) AS observers_assigned,
       COALESCE(p.n, 0) AS observers_present, l.last_report_at
FROM k LEFT JOIN station_registry r USING (station_id) LEFT JOIN stations s USING (station_id)
LEFT JOIN assigned a USING (station_id) LEFT JOIN present p USING (station_id)
LEFT JOIN station_reports l USING (station_id)
WHERE $2::text IS NULL OR COALESCE(r.region, s.region) = $2
ORDER BY 3 NULLS LAST, r.number NULLS LAST, 1
"""
"""Every registered station, and every other one an observer of the election is assigned
to or present at; of one region when ``$2`` is given."""
COVERAGE_OF = COVERAGE.replace(
    "WHERE $2::text IS NULL OR COALESCE(r.region, s.region) = $2",
    "WHERE ($2::text IS NULL OR COALESCE(r.region, s.region) = $2)\n"
    "  AND COALESCE(r.region, s.region) = ANY($3::text[])")
"""A regional principal's: the stations of her regions only."""


async def coverage(conn: asyncpg.Connection, election: Election, region: str | None,
                   now: datetime, silent_minutes: int,
                   within: list[str] | None = None) -> dict[str, Any]:
    """Per station and per region: observers assigned and present, last report, silent
    (``within``: the stations of these regions only)."""
    found = await (conn.fetch(COVERAGE, election.id, region) if within is None
                   else conn.fetch(COVERAGE_OF, election.id, region, within))
    stations = [dict(r) for r in found]
    for s in stations:
        s["silent"] = is_silent(election, s["region"], s["last_report_at"], now,
                                silent_minutes)
    return {"election_id": election.id, "region": region, "as_of": now,
            "silent_minutes": silent_minutes, "stations": stations,
            "regions": region_totals(stations)}


def region_totals(stations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per region (``None``: stations of no known region): stations, observers assigned and
    present (sums of the stations' counts), silent stations."""
    totals: dict[str | None, dict[str, Any]] = {}
    for s in stations:
        t = totals.setdefault(s["region"], {"region": s["region"], "stations": 0,
                                            "assigned": 0, "present": 0, "silent": 0})
        t["stations"] += 1
        t["assigned"] += s["observers_assigned"]
        t["present"] += s["observers_present"]
        t["silent"] += s["silent"]
    return sorted(totals.values(), key=lambda t: (t["region"] is None, t["region"] or ""))
