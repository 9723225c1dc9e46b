"""Distinct (corroborated) incidents at a station."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from saylau.readmodels import incidents as incident_reads
from saylau.readmodels.stations import station_in
from services.api.deps import PoolDep, ReachDep, answer

router = APIRouter(tags=["registries"])


@router.get("/v1/stations/{station_id}/incidents")
async def get_station_incidents(station_id: str, db: PoolDep, reach: ReachDep) -> Any:
    """Distinct incidents at a station, each with its corroboration count and report ids
    (none at a station of another region than the caller's, as at an unknown one)."""
    async with db.acquire() as conn:
        found = await incident_reads.station_incidents(conn, station_id) \
            if await station_in(conn, station_id, reach.filter()) else []
    return answer({"station_id": station_id, "incidents": found})
