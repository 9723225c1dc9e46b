"""Regions: the per-region roll-up and a region's stations. Queries over the stations,
detentions, breaches, registry and incidents read models; no tables of their own."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from saylau.domain.vocabulary import BREACH_OPEN, detained_now
from saylau.readmodels.base import ReadModel

READ_MODEL = ReadModel("regions")

REGIONS = """
SELECT region, sum(stations)::int AS stations_with_incidents,
       sum(incidents)::int AS incidents, sum(detained_total)::int AS detained_total,
       0 AS detained_now, sum(breaches)::int AS open_breaches
FROM (
  SELECT region, count(*) FILTER (WHERE total > 0) AS stations, sum(total) AS incidents,
         0 AS detained_total, 0 AS breaches
    FROM stations GROUP BY region
  UNION ALL SELECT region, 0, 0, sum(detained_total), 0 FROM city_detentions GROUP BY region
  UNION ALL SELECT region, 0, 0, 0, count(*) FROM breaches WHERE status = $1 GROUP BY region) t
WHERE region IS NOT NULL GROUP BY region ORDER BY region
"""


async def regions(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Per region: stations with incidents, reports, people detained and still held, open
    breaches."""
    rows = [dict(r) for r in await conn.fetch(REGIONS, BREACH_OPEN)]
    held: dict[str, int] = defaultdict(int)
    for c in await conn.fetch("SELECT region, detained_total, released_total "
                              "FROM city_detentions"):
        held[c["region"]] += detained_now(c["detained_total"], c["released_total"])
    return [{**r, "detained_now": held[r["region"]]} for r in rows]


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
