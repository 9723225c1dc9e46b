"""Quick count: the sample's estimates of turnout and shares against the official figures."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from saylau.domain.quickcount import MAX_CONFIDENCE
from saylau.readmodels import quickcount as quickcount_reads
from saylau.web.contract import errors
from services.api.deps import NationalReaderDep, PoolDep

router = APIRouter(tags=["quickcount"])


@router.get("/v1/quickcount", responses=errors(
    404, s404="no quick-count sample drawn for this election"))
async def get_quickcount(
        db: PoolDep, _: NationalReaderDep,
        election_id: Annotated[str, Query(pattern=r"^[a-z0-9-]{1,64}$",
                                          examples=["kz-2021-01-10"])],
        confidence: Annotated[float, Query(
            gt=0, le=MAX_CONFIDENCE, description="Confidence level of the intervals: above 0, "
            f"at most {MAX_CONFIDENCE} (closer to 1 an interval cannot be computed)")] = 0.95,
) -> Any:
    """The latest sample's estimates (stratified ratio estimator, linearised variance; see
    docs/quickcount.md) with ``confidence`` intervals, per region, the official figures and
    the discrepancies (an official figure outside the 99 % interval once 80 % of the sample
    reported final figures: ``sample.final``; ``sample.hourly`` counts stations whose only
    figure is an earlier hour's count; a national figure only once every stratum reported:
    ``national_check`` names the strata it waits for). National statistics: a key or account
    bound to regions is refused (403)."""
    async with db.acquire() as conn:
        found = await quickcount_reads.quickcount_view(conn, election_id, confidence)
    if found is None:
        raise HTTPException(404, f"no quick-count sample drawn for election {election_id!r}")
    return found
