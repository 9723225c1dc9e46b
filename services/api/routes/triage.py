"""The triage queue of unverified reports."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from saylau.readmodels import triage as triage_reads
from services.api.deps import NamesDep, PoolDep

router = APIRouter()


@router.get("/v1/triage")
async def get_triage(db: PoolDep, shown: NamesDep,
                     limit: int = Query(200, ge=1, le=5000)) -> Any:
    """The triage queue: unverified reports, urgent first, with claim, urgency and notes."""
    async with db.acquire() as conn:
        return {"reports": await triage_reads.triage_queue(conn, limit, shown)}
