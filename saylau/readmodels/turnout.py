"""Turnout: observers' standing count per election, station and hour, the officially
announced turnout per region and hour, and the turnout alerts, re-evaluated per touched
station.

A count's election is the stored event's (``events.election_id``: its envelope's, else the
election whose calendar window holds it; ``''`` when neither), so a second round at the same
stations keeps counts, series and alerts of its own.

Re-evaluating from the committed counts is safe because all of a station's events share a
partition and the tracking row-locks the partition for the batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Column, DateTime, Float, Integer, PrimaryKeyConstraint, Text
from sqlalchemy.dialects.postgresql import UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.turnout import TURNOUT_RULES, StationSeries, TurnoutCount, turnout_alerts
from saylau.domain.vocabulary import TURNOUT_ANNOUNCED, TURNOUT_INPUTS, TURNOUT_REPORTED
from saylau.domain.vocabulary import WITHDRAWN_STATUSES as GONE
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.breaches import delete_breaches, upsert_breaches
from saylau.readmodels.registry import latest, lww, stamp
from saylau.store.ddl import READ, table

station_turnout = table(
    "station_turnout", READ,
    Column("station_id", Text, nullable=False),
    Column("election_id", Text, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("voters", Integer, nullable=False),
    Column("event_id", UUID, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("station_id", "election_id", "hour"),
)

announced_turnout = table(
    "announced_turnout", READ,
    Column("region", Text, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("percent", Float, nullable=False),
    Column("stamp", Text, nullable=False),
    PrimaryKeyConstraint("region", "hour"),
)


@dataclass
class TurnoutRows:
    announced: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    stations: set[str] = field(default_factory=set)
    """Stations whose turnout must be re-evaluated."""


def fold(batch: Batch, config: RuleConfig) -> TurnoutRows:
    rows = TurnoutRows()
    for c in batch.counted:
        e = c.event
        if e.type in TURNOUT_INPUTS and e.station_id:
            rows.stations.add(e.station_id)
        if c.sign > 0 and e.type == TURNOUT_ANNOUNCED and e.region:
            latest(rows.announced, (e.region, e.payload["hour"]),
                   (stamp(e), float(e.payload["percent"])))
    return rows


async def write(conn: asyncpg.Connection, rows: TurnoutRows, config: RuleConfig) -> list[Change]:
    await _upsert_announced(conn, rows)
    return await evaluate_turnout(conn, sorted(rows.stations), config)


async def _upsert_announced(conn: asyncpg.Connection, rows: TurnoutRows) -> None:
    if not rows.announced:
        return
    keys = sorted(rows.announced)
    await conn.execute(
        "INSERT INTO announced_turnout AS r (region, hour, stamp, percent) SELECT * FROM "
        "unnest($1::text[], $2::int[], $3::text[], $4::float8[]) ON CONFLICT (region, hour) "
        f"DO UPDATE SET {lww('percent', 'stamp')}, stamp = GREATEST(r.stamp, EXCLUDED.stamp)",
        [k[0] for k in keys], [k[1] for k in keys], [rows.announced[k][0] for k in keys],
        [rows.announced[k][1] for k in keys])


READ_MODEL = ReadModel("turnout", (station_turnout, announced_turnout), fold, write,
                       after=("events", "registry"))

STANDING_COUNTS = """
INSERT INTO station_turnout (station_id, election_id, hour, voters, event_id, occurred_at)
SELECT DISTINCT ON (station_id, election_id, hour)
       station_id, election_id, hour, voters, event_id, occurred_at FROM (
  SELECT station_id, COALESCE(election_id, '') AS election_id,
         (record->'payload'->>'hour')::int AS hour,
         (record->'payload'->>'voters')::int AS voters, event_id, occurred_at
  FROM events WHERE type = $2 AND station_id = ANY($1::text[])
    AND status <> ALL($3::text[])) t
ORDER BY station_id, election_id, hour, occurred_at DESC, event_id DESC
RETURNING station_id, election_id, hour, voters, event_id, occurred_at,
  (SELECT e.region FROM events e WHERE e.event_id = station_turnout.event_id) AS region,
  (SELECT e.city FROM events e WHERE e.event_id = station_turnout.event_id) AS city
"""


async def evaluate_turnout(conn: asyncpg.Connection, stations: list[str],
                           config: RuleConfig) -> list[Change]:
    """Rebuild the standing count per election and hour of ``stations`` and their turnout
    alerts.

    An alert the counts no longer support is deleted (not marked withdrawn): its row then
    depends only on the final counts, as a replay in any batch sizes would find them.
    """
    if not stations:
        return []
    await conn.execute("DELETE FROM station_turnout WHERE station_id = ANY($1::text[])", stations)
    counts = await conn.fetch(STANDING_COUNTS, stations, TURNOUT_REPORTED, list(GONE))
    alerts = [a for s in await _series(conn, stations, counts) for a in turnout_alerts(s, config)]
    old = await conn.fetch(
        "SELECT breach_id::text AS id, title, event_ids::text AS ids, region, city, station_id "
        "FROM breaches WHERE station_id = ANY($1::text[]) AND rule_id = ANY($2::text[])",
        stations, list(TURNOUT_RULES))
    known = {r["id"]: (r["title"], orjson.loads(r["ids"]), r["region"], r["city"]) for r in old}
    fresh = [a for a in alerts
             if known.get(a.breach_id) != (a.title, list(a.event_ids), a.region, a.city)]
    gone = [r for r in old if r["id"] not in {a.breach_id for a in alerts}]
    await delete_breaches(conn, [r["id"] for r in gone])
    return await upsert_breaches(conn, fresh) + [
        {"kind": "breach_withdrawn", "region": r["region"], "station_id": r["station_id"],
         "data": {"breach_id": r["id"]}} for r in gone]


async def _series(conn: asyncpg.Connection, stations: list[str],
                  counts: list[asyncpg.Record]) -> list[StationSeries]:
    """Each station's counts per election, placed by the registry, else by the latest count's
    envelope (never by whatever else happened to be projected first: replay must agree)."""
    rows = await conn.fetch("SELECT station_id, region, city, registered_voters FROM "
                            "station_registry WHERE station_id = ANY($1::text[])", stations)
    registry = {r["station_id"]: r for r in rows}
    by_series: dict[tuple[str, str], list[asyncpg.Record]] = {}
    for c in counts:
        by_series.setdefault((c["station_id"], c["election_id"]), []).append(c)
    return [_station_series(s, e, registry.get(s), found)
            for (s, e), found in sorted(by_series.items())]


def _station_series(station_id: str, election_id: str, registered: asyncpg.Record | None,
                    counts: list[asyncpg.Record]) -> StationSeries:
    latest_count = max(counts, key=lambda c: (c["occurred_at"], str(c["event_id"])))
    place = registered or latest_count
    return StationSeries(
        station_id, place["region"], place["city"],
        registered and registered["registered_voters"],
        [TurnoutCount(c["hour"], c["voters"], str(c["event_id"]), c["occurred_at"])
         for c in counts], election_id or None)


REGION_TURNOUT = """
WITH counts AS (
  SELECT DISTINCT ON (t.station_id, t.hour) t.station_id, t.hour, t.voters, r.registered_voters
  FROM station_turnout t JOIN station_registry r USING (station_id) WHERE r.region = $1
  ORDER BY t.station_id, t.hour, t.occurred_at DESC, t.event_id DESC)
SELECT h.hour, count(c.station_id)::int AS stations_reporting,
       COALESCE(sum(c.voters), 0)::int AS voters,
       COALESCE(sum(c.registered_voters), 0)::int AS registered_voters,
       a.percent AS announced_percent
FROM (SELECT hour FROM counts UNION SELECT hour FROM announced_turnout WHERE region = $1) h
LEFT JOIN counts c ON c.hour = h.hour
LEFT JOIN announced_turnout a ON a.region = $1 AND a.hour = h.hour
GROUP BY h.hour, a.percent ORDER BY h.hour
"""
"""A station counts once per hour, by its latest count of any election (the announced
turnout names no election)."""


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
