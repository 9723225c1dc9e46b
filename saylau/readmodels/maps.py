"""The map of an election: its regions as GeoJSON features with the live measures, and its
registered stations as points. Queries over the registry, coverage, roll-ups, breaches and
events read models and the imported boundaries; no tables of their own.

A station belongs to the election its ``station.registered`` event belongs to (the
envelope's ``election_id``, else the election whose window holds it: ``events.election_id``).
``detained_now`` and ``open_breaches`` are the region roll-ups the grid shows (detentions
are counted per city, not per election); ``reports_last_hour`` counts the election's reports
ingest received in the hour before ``now``; ``silent_stations`` counts the election's
stations silent by coverage's rule (``saylau.domain.coverage.is_silent``).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from saylau.domain.calendar import Election
from saylau.domain.coverage import is_silent
from saylau.domain.maps import drawn
from saylau.domain.vocabulary import BREACH_OPEN, NOT_REPORTS, STATION_REGISTERED
from saylau.readmodels import rollups
from saylau.readmodels.base import ReadModel
from saylau.store import boundaries

READ_MODEL = ReadModel("maps")

ELECTION_STATIONS = f"""
SELECT DISTINCT station_id FROM events
WHERE type = '{STATION_REGISTERED}' AND election_id = $1 AND station_id IS NOT NULL
"""
"""The election's registered stations, through the partial index ``events_registrations``."""

REGION_STATIONS = f"""
SELECT r.region, count(*)::int AS stations, avg(r.lon) AS lon, avg(r.lat) AS lat,
       count(*) FILTER (WHERE l.last_report_at IS NULL OR l.last_report_at <= $2)::int AS quiet
FROM ({ELECTION_STATIONS}) k JOIN station_registry r USING (station_id)
LEFT JOIN station_reports l USING (station_id)
WHERE r.region IS NOT NULL GROUP BY r.region
"""
"""Per region: the election's stations, the centroid of those with coordinates, and how many
have not been heard from since ``$2`` (silent, while voting is open there: see ``silent``)."""

REPORTS_SINCE = """
SELECT region, count(*)::int AS reports FROM events
WHERE received_at >= $2 AND election_id = $1 AND region IS NOT NULL
  AND NOT (type = ANY($3::text[]))
GROUP BY region
"""

STATIONS = f"""
WITH open AS (SELECT station_id, count(*)::int AS n FROM breaches
              WHERE status = '{BREACH_OPEN}' AND station_id IS NOT NULL GROUP BY station_id)
SELECT r.station_id, r.number, r.address, r.lon, r.lat, COALESCE(o.n, 0) AS open_breaches,
       l.last_report_at
FROM ({ELECTION_STATIONS}) k JOIN station_registry r USING (station_id)
LEFT JOIN open o USING (station_id) LEFT JOIN station_reports l USING (station_id)
WHERE r.lat IS NOT NULL AND r.lon IS NOT NULL
  AND ($2::text[] IS NULL OR r.region = ANY($2::text[]))
  AND ($3::float8[] IS NULL OR (r.lat BETWEEN $3[2] AND $3[4] AND CASE
       WHEN $3[1] <= $3[3] THEN r.lon BETWEEN $3[1] AND $3[3]
       ELSE r.lon >= $3[1] OR r.lon <= $3[3] END))
ORDER BY r.station_id
"""
"""The election's stations with coordinates: of ``$2``'s regions (None: all), within the box
``$3`` ([west, south, east, north]; None: anywhere; west > east: across the antimeridian,
as RFC 7946 §5.2 reads a bbox)."""


async def regions(conn: asyncpg.Connection, election: Election, reach: list[str] | None,
                  now: datetime, silent_minutes: int, ingest_schema: str) -> dict[str, Any]:
    """One feature per region of ``election`` (of ``reach``'s regions only, unless None)."""
    names = [r for r in election.regions if reach is None or r in reach]
    stations = {r["region"]: r for r in await conn.fetch(
        REGION_STATIONS, election.id, now - timedelta(minutes=silent_minutes))}
    rolled = {r["region"]: r for r in await rollups.regions(conn)}
    recent = {r["region"]: r["reports"] for r in await conn.fetch(
        REPORTS_SINCE, election.id, now - timedelta(hours=1), list(NOT_REPORTS))}
    own = await boundaries.imported(conn, ingest_schema, election.id)
    table = boundaries.shape_table().elections.get(election.id, {})
    features = []
    for name in names:
        s, rolled_up = stations.get(name), rolled.get(name)
        centre = (s["lon"], s["lat"]) if s and s["lon"] is not None else None
        geometry, how = ((own[name], "imported") if name in own else
                         drawn(table.get(name), boundaries.shipped_polygons(), centre))
        features.append({"type": "Feature", "id": name, "geometry": geometry, "properties": {
            "region": name, "drawn_as": how, "stations": s["stations"] if s else 0,
            "detained_now": rolled_up["detained_now"] if rolled_up else 0,
            "open_breaches": rolled_up["open_breaches"] if rolled_up else 0,
            "reports_last_hour": recent.get(name, 0),
            "silent_stations": silent(election, name, s, now, silent_minutes)}})
    return {"type": "FeatureCollection", "election_id": election.id, "as_of": now.isoformat(),
            "boundaries": "imported" if own else boundaries.shape_table().source,
            "features": features}


def silent(election: Election, region: str, counted: Any, now: datetime, minutes: int) -> int:
    """The region's silent stations: those quiet for ``minutes``, while voting is open there
    and has been for ``minutes`` (``is_silent`` of a station never heard from says whether it
    is; for one heard from, the same rule reduces to its last report being that old)."""
    if counted is None or not is_silent(election, region, None, now, minutes):
        return 0
    return int(counted["quiet"])


async def stations(conn: asyncpg.Connection, election_id: str, reach: list[str] | None,
                   bbox: list[float] | None) -> dict[str, Any]:
    """The election's stations with coordinates as GeoJSON points, compactly."""
    rows = await conn.fetch(STATIONS, election_id, reach, bbox)
    return {"type": "FeatureCollection", "election_id": election_id, "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
         "properties": {"station_id": r["station_id"], "number": r["number"],
                        "address": r["address"], "open_breaches": r["open_breaches"],
                        "last_report_at": r["last_report_at"]}} for r in rows]}
