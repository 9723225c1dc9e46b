"""Regions: the roll-up, a region's registered stations and its observed turnout."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from saylau.readmodels import regions as region_reads
from saylau.readmodels import rollups
from saylau.readmodels import turnout as turnout_reads
from services.api.deps import PoolDep, ReaderDep, answer

router = APIRouter()


@router.get("/v1/regions")
async def get_regions(db: PoolDep, _: ReaderDep) -> Any:
    """Per-region roll-up: stations with incidents, detentions, open breaches."""
    async with db.acquire() as conn:
        return answer({"regions": await rollups.regions(conn)})


@router.get("/v1/regions/{region}/stations", tags=["registries"])
async def get_region_stations(region: str, db: PoolDep, _: ReaderDep,
                              limit: int = Query(5000, ge=1, le=20000)) -> Any:
    """Stations of a region: registry data, report and distinct-incident totals, observers."""
    async with db.acquire() as conn:
        return answer({"region": region,
                       "stations": await region_reads.region_stations(conn, region, limit)})


@router.get("/v1/regions/{region}/turnout", tags=["registries"])
async def get_region_turnout(region: str, db: PoolDep, _: ReaderDep) -> Any:
    """Per hour: turnout counted by observers at registered stations vs the announced one."""
    async with db.acquire() as conn:
        return answer({"region": region,
                       "hours": await turnout_reads.region_turnout(conn, region)})
