"""Reports per time bucket: the dashboard's chart."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from saylau.readmodels import timeline as timeline_reads
from services.api.deps import PoolDep, ReachDep, answer

router = APIRouter()


@router.get("/v1/timeline")
async def get_report_timeline(db: PoolDep, reach: ReachDep,
                              bucket_minutes: int = Query(10, ge=1, le=1440),
                              limit: int = Query(144, ge=1, le=5000)) -> Any:
    """Reports per time bucket (latest buckets) and the change cursor the counts include;
    the caller's regions' reports only, when bound to regions."""
    async with db.acquire() as conn:
        return answer(await timeline_reads.report_timeline(conn, bucket_minutes, limit,
                                                           reach.filter()))
