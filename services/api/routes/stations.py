"""Polling stations with incidents: the list, one station, its reports in time order."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from saylau.readmodels import events as stored_events
from saylau.readmodels import stations as station_reads
from services.api.deps import NamesDep, PoolDep, ReaderDep

router = APIRouter()


@router.get("/v1/stations")
async def list_stations(db: PoolDep, _: ReaderDep, region: str | None = None,
                        limit: int = Query(500, ge=1, le=10000)) -> Any:
    """Polling stations with incidents, most incidents first."""
    async with db.acquire() as conn:
        return {"stations": await station_reads.list_stations(conn, region, limit)}


@router.get("/v1/stations/{station_id}")
async def get_station(station_id: str, db: PoolDep, _: ReaderDep) -> Any:
    """Incidents at one polling station, by type."""
    async with db.acquire() as conn:
        found = await station_reads.station(conn, station_id)
    if found is None:
        raise HTTPException(404, f"no reports for station {station_id!r}")
    return found


@router.get("/v1/stations/{station_id}/timeline")
async def get_timeline(station_id: str, db: PoolDep, shown: NamesDep) -> Any:
    """Every report about one station, in time order, with its triage status."""
    async with db.acquire() as conn:
        events = await stored_events.station_timeline(conn, station_id, shown)
    return {"station_id": station_id, "events": events}
