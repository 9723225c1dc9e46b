"""Regions: the roll-up, a region's registered stations and its observed turnout."""
from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query

from saylau.domain.roles import Reach
from saylau.readmodels import regions as region_reads
from saylau.readmodels import rollups
from saylau.readmodels import turnout as turnout_reads
from saylau.web.contract import errors
from services.api.deps import PoolDep, ReachDep, answer, calendars, region_asked

router = APIRouter()
UNKNOWN = errors(404, s404="no such region: neither an election file nor any report or "
                           "registry entry names it, or it is not among the caller's regions")


@router.get("/v1/regions")
async def get_regions(db: PoolDep, reach: ReachDep) -> Any:
    """Per-region roll-up: stations with incidents, detentions, open breaches (the caller's
    regions only, when bound to regions)."""
    async with db.acquire() as conn:
        return answer({"regions": await rollups.regions(conn, reach.filter())})


async def known_region(conn: asyncpg.Connection, name: str, reach: Reach) -> str:
    """The canonical region ``name`` asks for, when it exists and the caller reaches it;
    else 404, the same answer for a region of no report and one of another coordinator."""
    region = region_asked(name)
    listed = any(region in e.regions for e in calendars().elections.values())
    if not reach.sees(region) or not (listed or await region_reads.named(conn, region)):
        raise HTTPException(404, f"no region {name!r}")
    return region


@router.get("/v1/regions/{region}/stations", tags=["registries"], responses=UNKNOWN)
async def get_region_stations(region: str, db: PoolDep, reach: ReachDep,
                              limit: int = Query(5000, ge=1, le=20000)) -> Any:
    """Stations of a region: registry data, report and distinct-incident totals, observers
    (the region as any alias names it)."""
    async with db.acquire() as conn:
        canonical = await known_region(conn, region, reach)
        return answer({"region": canonical, "stations": await region_reads.region_stations(
            conn, canonical, limit)})


@router.get("/v1/regions/{region}/turnout", tags=["registries"], responses=UNKNOWN)
async def get_region_turnout(region: str, db: PoolDep, reach: ReachDep) -> Any:
    """Per hour: turnout counted by observers at registered stations vs the announced one
    (the region as any alias names it)."""
    async with db.acquire() as conn:
        canonical = await known_region(conn, region, reach)
        return answer({"region": canonical,
                       "hours": await turnout_reads.region_turnout(conn, canonical)})
