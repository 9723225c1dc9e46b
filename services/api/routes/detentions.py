"""Detentions per city: now, or as they stood at a past moment."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException

from saylau.readmodels import as_of as as_of_reads
from saylau.readmodels import detentions as detention_reads
from services.api.deps import PoolDep, ReaderDep

router = APIRouter()


@router.get("/v1/detentions")
async def get_detentions(db: PoolDep, _: ReaderDep, as_of: datetime | None = None) -> Any:
    """Detained total / released / detained now per city; ``as_of`` for a past moment."""
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(422, "as_of needs a UTC offset, e.g. 2021-01-10T15:00:00+06:00")
    async with db.acquire() as conn:
        if as_of is None:
            return await detention_reads.detentions(conn)
        return detention_reads.summary(await as_of_reads.detentions_as_of(conn, as_of), as_of)
