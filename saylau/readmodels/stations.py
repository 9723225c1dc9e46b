"""Stations with incidents: reports per station and per incident type (a report of a
checklist counts once per violation it shows)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Index, Integer, PrimaryKeyConstraint, Text

from saylau.domain.breach import RuleConfig
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.readmodels.region_moves import RegionMoves, gathered
from saylau.store.ddl import READ, table

station_incidents = table(
    "station_incidents", READ,
    Column("station_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("reports", Integer, nullable=False),
    PrimaryKeyConstraint("station_id", "type"),
)

stations = table(
    "stations", READ,
    Column("station_id", Text, primary_key=True),
    Column("region", Text),
    Column("city", Text),
    Column("total", Integer, nullable=False),
    Column("last_event_at", DateTime(timezone=True)),
    Index("stations_region", "region", "station_id"),
)


@dataclass
class StationRows:
    stations: dict[str, list[Any]] = field(default_factory=dict)
    """station_id → [region, city, reports added, latest occurred_at]."""
    station_incidents: dict[tuple[str, str], int] = field(
        default_factory=lambda: defaultdict(int))
    registered: dict[str, str] = field(default_factory=dict)
    """station_id → its registry region at its batch's latest report there: the region its
    row takes (``RELOCATE``) over the one its earlier, unregistered reports named."""


def fold(batch: Batch, config: RuleConfig) -> StationRows:
    rows = StationRows()
    for c in batch.counted:
        e = c.event
        if not e.station_id:
            continue
        row = rows.stations.setdefault(e.station_id, [None, e.city, 0, None])
        if c.sign > 0 and e.event_id in batch.by_registry:
            rows.registered[e.station_id] = e.region
        row[0] = rows.registered.get(e.station_id) or row[0] or e.region
        row[1] = row[1] or e.city
        for kind in c.kinds:
            rows.station_incidents[(e.station_id, kind)] += c.sign
            row[2] += c.sign
            row[3] = max(filter(None, (row[3], e.occurred_at)))
    return rows


async def write(conn: asyncpg.Connection, rows: StationRows, config: RuleConfig) -> list[Change]:
    """The batch's stations and their incident counts in one statement (and the counts back
    at zero dropped, when a withdrawal brought one there)."""
    if not rows.stations:
        return []
    ids = sorted(rows.stations)  # one lock order for every worker: no deadlocks
    moves = gathered()
    await _relocate(conn, rows.registered, moves)
    items = sorted((k, v) for k, v in rows.station_incidents.items() if v)
    found = await conn.fetch(UPSERT_STATIONS, ids, *columns([tuple(rows.stations[i]) for i in ids]),
                             *columns([(*k, v) for k, v in items], 3))
    for r in found:
        moves.station(r["region"], r["total"], rows.stations[r["station_id"]][2],
                      r["region_before"], r["inserted"] or r["existed"])
    await _drop_zero_counts(conn, [k for k, v in items if v < 0])
    return [{"kind": "station", "region": r["region"], "station_id": r["station_id"],
             "data": {"station_id": r["station_id"], "region": r["region"], "city": r["city"],
                      "total": r["total"],
                      "last_event_at": r["last_event_at"] and r["last_event_at"].isoformat()}}
            for r in found]


UPSERT_STATIONS = """
WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],
                                $5::timestamptz[]) AS k(station_id, region, city, total, at)),
before AS (SELECT k.station_id, b.region, b.station_id IS NOT NULL AS existed FROM k
           LEFT JOIN LATERAL (SELECT station_id, region FROM stations s  -- by its key, never
                              WHERE s.station_id = k.station_id LIMIT 1) b ON true),  -- a scan
counted AS (
  INSERT INTO station_incidents AS i (station_id, type, reports)
  SELECT * FROM unnest($6::text[], $7::text[], $8::int[])
  ON CONFLICT (station_id, type) DO UPDATE SET reports = i.reports + EXCLUDED.reports),
up AS (
  INSERT INTO stations AS s (station_id, region, city, total, last_event_at)
  SELECT * FROM k ON CONFLICT (station_id) DO UPDATE SET
    region = COALESCE(s.region, EXCLUDED.region), city = COALESCE(s.city, EXCLUDED.city),
    total = s.total + EXCLUDED.total,
    last_event_at = GREATEST(s.last_event_at, EXCLUDED.last_event_at)
  RETURNING s.station_id, s.region, s.city, s.total, s.last_event_at, s.xmax = 0 AS inserted)
SELECT up.*, before.region AS region_before, before.existed
FROM up JOIN before USING (station_id)
"""
"""Add a batch's reports to its stations ($1-$5) and to their counts per incident type
($6-$8); each station as it is now, with whether this statement inserted it and the region
its snapshot read before (how the region roll-ups move)."""


RELOCATE = """
UPDATE stations s SET region = k.region
FROM unnest($1::text[], $2::text[]) AS k(station_id, region)
WHERE s.station_id = k.station_id AND s.region IS DISTINCT FROM k.region
RETURNING s.region, (SELECT b.region FROM stations b WHERE b.station_id = s.station_id)
  AS region_before
"""
"""Stations of the batch whose registry region differs from their row's, moved there (the
subquery reads the statement's snapshot: the region before)."""


async def _relocate(conn: asyncpg.Connection, registered: dict[str, str],
                    moves: RegionMoves) -> None:
    """A station's row follows its registry entry, which wins over the region its earlier
    reports named (``saylau.domain.regions.station_region``); its regions are recounted."""
    if registered:
        ids = sorted(registered)
        for r in await conn.fetch(RELOCATE, ids, [registered[i] for i in ids]):
            moves.moved(r["region_before"], r["region"])


async def _drop_zero_counts(conn: asyncpg.Connection, lowered: list[tuple[str, str]]) -> None:
    """A count back at zero leaves no row: as if its reports had been withdrawn in the batch
    that made them, which is what a replay in larger batches sees (only a withdrawal, a
    negative count, can bring one back to zero)."""
    if lowered:
        await conn.execute(
            "DELETE FROM station_incidents i USING unnest($1::text[], $2::text[]) AS k(s, t) "
            "WHERE i.station_id = k.s AND i.type = k.t AND i.reports = 0",
            [k[0] for k in lowered], [k[1] for k in lowered])


READ_MODEL = ReadModel("stations", (station_incidents, stations), fold, write)


STATION_REGION = """
SELECT COALESCE((SELECT region FROM station_registry WHERE station_id = $1),
                (SELECT region FROM stations WHERE station_id = $1))
"""
"""A station's region: its registry entry, else what its reports named."""


async def station_in(conn: asyncpg.Connection, station_id: str,
                     within: list[str] | None) -> bool:
    """Whether a principal reading ``within`` (None: the whole country) may see the station
    (a station of no known region is national)."""
    return within is None or await conn.fetchval(STATION_REGION, station_id) in within


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


LIST_STATIONS = """
SELECT station_id, region, city, total, last_event_at FROM stations
WHERE ($1::text IS NULL OR region = $1) AND total > 0
AND ($3::text IS NULL OR station_id > $3)
ORDER BY station_id LIMIT $2
"""
LIST_STATIONS_OF = LIST_STATIONS.replace("AND total > 0", "AND total > 0 AND region = ANY($4::text[])")
"""A regional principal's page: the same, of her regions only."""


async def list_stations(conn: asyncpg.Connection, region: str | None, limit: int,
                        after: str | None = None,
                        within: list[str] | None = None) -> list[dict[str, Any]]:
    """Stations with incidents in ``station_id`` order (immutable, unique: a keyset page),
    those after ``after``; ``within``: of these regions only."""
    if within is None:
        rows = await conn.fetch(LIST_STATIONS, region, limit, after)
    else:
        rows = await conn.fetch(LIST_STATIONS_OF, region, limit, after, within)
    return [dict(r) for r in rows]
