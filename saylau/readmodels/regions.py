"""Regions: a region's stations. Queries over the stations, registry and incidents read
models; no tables of their own (the per-region roll-up is ``saylau.readmodels.rollups``)."""
from __future__ import annotations

from typing import Any

import asyncpg

from saylau.readmodels.base import ReadModel

READ_MODEL = ReadModel("regions")

REGION_STATIONS = """
SELECT k.station_id, r.number, r.address, r.district, COALESCE(r.city, s.city) AS city,
       r.registered_voters, r.lat, r.lon, r.station_id IS NOT NULL AS registered,
       COALESCE(s.total, 0) AS reports,
       (SELECT count(*) FROM incident_groups g WHERE g.station_id = k.station_id)::int
         AS distinct_incidents,
       EXISTS (SELECT 1 FROM observers o WHERE o.accredited
               AND o.station_id = k.station_id) AS observer_present
FROM (SELECT station_id FROM station_registry WHERE region = $1
      UNION ALL
      SELECT station_id FROM stations u WHERE region = $1
        AND NOT EXISTS (SELECT 1 FROM station_registry x WHERE x.station_id = u.station_id)) k
LEFT JOIN station_registry r ON r.station_id = k.station_id
LEFT JOIN stations s ON s.station_id = k.station_id
ORDER BY r.number NULLS LAST, 1
LIMIT $2
"""
"""The registered stations of the region, and the unregistered ones reported on there, each
found through its region index (``ix_station_registry_region``, ``stations_region``)."""


NAMED = """
SELECT EXISTS (SELECT 1 FROM region_rollups WHERE region = $1)
    OR EXISTS (SELECT 1 FROM station_registry WHERE region = $1)
    OR EXISTS (SELECT 1 FROM stations WHERE region = $1)
    OR EXISTS (SELECT 1 FROM announced_turnout WHERE region = $1)
"""
"""Whether a report, a registry entry or an announced figure names the region (by index)."""


async def named(conn: asyncpg.Connection, region: str) -> bool:
    """Whether the read models hold anything of ``region`` (one the elections do not list
    is shown as reports name it, never merged)."""
    return bool(await conn.fetchval(NAMED, region))


async def region_stations(conn: asyncpg.Connection, region: str,
                          limit: int) -> list[dict[str, Any]]:
    """Registered stations of ``region`` and those reported on, with incident totals and
    whether an accredited observer is assigned (``reports`` counts reports, like ``total``)."""
    return [dict(r) for r in await conn.fetch(REGION_STATIONS, region, limit)]
