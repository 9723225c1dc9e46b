"""Distinct (corroborated) incidents at a station."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from saylau.readmodels import incidents as incident_reads
from services.api.deps import PoolDep, ReaderDep, answer

router = APIRouter(tags=["registries"])


@router.get("/v1/stations/{station_id}/incidents")
async def get_station_incidents(station_id: str, db: PoolDep, _: ReaderDep) -> Any:
    """Distinct incidents at a station, each with its corroboration count and report ids."""
    async with db.acquire() as conn:
        return answer({"station_id": station_id,
                       "incidents": await incident_reads.station_incidents(conn, station_id)})
