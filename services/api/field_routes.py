"""Registry, turnout and incident views: stations per region, turnout roll-up, incidents."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from saylau.readmodels import incidents, regions, turnout
from services.api.deps import Pool, ReadKey

router = APIRouter(tags=["registries"])


@router.get("/v1/regions/{region}/stations")
async def get_region_stations(region: str, db: Pool, _: ReadKey,
                              limit: int = Query(5000, ge=1, le=20000)) -> Any:
    """Stations of a region: registry data, report and distinct-incident totals, observers."""
    async with db.acquire() as conn:
        return {"region": region,
                "stations": await regions.region_stations(conn, region, limit)}


@router.get("/v1/regions/{region}/turnout")
async def get_region_turnout(region: str, db: Pool, _: ReadKey) -> Any:
    """Per hour: turnout counted by observers at registered stations vs the announced one."""
    async with db.acquire() as conn:
        return {"region": region, "hours": await turnout.region_turnout(conn, region)}


@router.get("/v1/stations/{station_id}/incidents")
async def get_station_incidents(station_id: str, db: Pool, _: ReadKey) -> Any:
    """Distinct incidents at a station, each with its corroboration count and report ids."""
    async with db.acquire() as conn:
        return {"station_id": station_id,
                "incidents": await incidents.station_incidents(conn, station_id)}
