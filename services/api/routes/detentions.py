"""Detentions per city: now, or as they stood at a past moment."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from saylau.readmodels import as_of as as_of_reads
from saylau.readmodels import detentions as detention_reads
from saylau.web.input import TIMESTAMP_EXAMPLE, Timestamp
from services.api.deps import PoolDep, ReachDep, answer

router = APIRouter()


@router.get("/v1/detentions")
async def get_detentions(db: PoolDep, reach: ReachDep, as_of: Annotated[
        Timestamp | None, Query(examples=[TIMESTAMP_EXAMPLE])] = None) -> Any:
    """Detained total / released / detained now per city; ``as_of`` for a past moment; the
    cities of the caller's regions only, when bound to regions."""
    within = reach.filter()
    async with db.acquire() as conn:
        if as_of is None:
            return answer(await detention_reads.detentions(conn, within))
        return answer(detention_reads.summary(
            await as_of_reads.detentions_as_of(conn, as_of, within), as_of))
