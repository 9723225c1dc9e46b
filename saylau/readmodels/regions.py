"""Regions: a region's stations. Queries over the stations, registry and incidents read
models; no tables of their own (the per-region roll-up is ``saylau.readmodels.rollups``)."""
from __future__ import annotations

from typing import Any

import asyncpg

from saylau.readmodels.base import ReadModel

READ_MODEL = ReadModel("regions")

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
