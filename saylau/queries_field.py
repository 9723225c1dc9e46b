"""The read side of the field read models: stations per region, turnout, incidents, triage."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

REGION_STATIONS = """
SELECT COALESCE(r.station_id, s.station_id) AS station_id, r.number, r.address, r.district,
       COALESCE(r.city, s.city) AS city, r.registered_voters, r.lat, r.lon,
       r.station_id IS NOT NULL AS registered, COALESCE(s.total, 0) AS reports,
       (SELECT count(*) FROM incident_groups g
        WHERE g.station_id = COALESCE(r.station_id, s.station_id))::int AS distinct_incidents,
       EXISTS (SELECT 1 FROM observers o WHERE o.accredited
               AND o.station_id = COALESCE(r.station_id, s.station_id)) AS observer_present
FROM station_registry r FULL JOIN stations s ON s.station_id = r.station_id
WHERE COALESCE(r.region, s.region) = $1
ORDER BY r.number NULLS LAST, 1
LIMIT $2
"""


async def region_stations(conn: asyncpg.Connection, region: str,
                          limit: int) -> list[dict[str, Any]]:
    """Registered stations of ``region`` and those reported on, with incident totals and
    whether an accredited observer is assigned (``reports`` counts reports, like ``total``)."""
    return [dict(r) for r in await conn.fetch(REGION_STATIONS, region, limit)]


REGION_TURNOUT = """
SELECT h.hour, count(t.station_id)::int AS stations_reporting,
       COALESCE(sum(t.voters), 0)::int AS voters,
       COALESCE(sum(r.registered_voters), 0)::int AS registered_voters,
       a.percent AS announced_percent
FROM (SELECT hour FROM station_turnout t JOIN station_registry r USING (station_id)
        WHERE r.region = $1
      UNION SELECT hour FROM announced_turnout WHERE region = $1) h
LEFT JOIN (station_turnout t JOIN station_registry r USING (station_id))
       ON t.hour = h.hour AND r.region = $1
LEFT JOIN announced_turnout a ON a.region = $1 AND a.hour = h.hour
GROUP BY h.hour, a.percent ORDER BY h.hour
"""


async def region_turnout(conn: asyncpg.Connection, region: str) -> list[dict[str, Any]]:
    """Per hour: turnout observers counted at registered stations against the announced one."""
    return [with_difference(dict(r)) for r in await conn.fetch(REGION_TURNOUT, region)]


def with_difference(row: dict[str, Any]) -> dict[str, Any]:
    """Observed turnout in percent, and how far the announced figure is above it (points)."""
    observed = (round(100 * row["voters"] / row["registered_voters"], 2)
                if row["registered_voters"] else None)
    announced = row["announced_percent"]
    difference = (round(announced - observed, 2)
                  if observed is not None and announced is not None else None)
    return {**row, "observed_percent": observed, "difference_points": difference}


async def station_incidents(conn: asyncpg.Connection, station_id: str) -> list[dict[str, Any]]:
    """Distinct incidents at a station: type, time bucket, corroboration count, report ids."""
    rows = await conn.fetch(
        "SELECT type, bucket_start, reports AS corroboration, report_ids FROM incident_groups "
        "WHERE station_id = $1 ORDER BY bucket_start, type", station_id)
    return [dict(r) for r in rows]


def triage_summary(actions: Sequence[asyncpg.Record]) -> dict[str, Any]:
    """Who holds a report, whether it is urgent, and the operators' notes, oldest first."""
    claims = [a for a in actions if a["kind"] == "claimed"]
    last = claims[-1] if claims else None
    return {"claimed_by": last and (last["operator"] or last["partner"]),
            "claimed_at": last and last["occurred_at"],
            "urgent": any(a["kind"] == "escalated" for a in actions),
            "notes": [{"kind": a["kind"], "at": a["occurred_at"],
                       "by": a["operator"] or a["partner"], "note": a["note"]}
                      for a in actions if a["kind"] != "claimed" or a["note"]]}


async def triage_summaries(conn: asyncpg.Connection,
                           report_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT report_id, kind, occurred_at, partner, operator, note FROM triage_actions "
        "WHERE report_id = ANY($1::uuid[]) ORDER BY occurred_at, action_id", report_ids)
    grouped: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for r in rows:
        grouped.setdefault(r["report_id"], []).append(r)
    return {rid: triage_summary(actions) for rid, actions in grouped.items()}
