"""Observer coverage: per station, observers assigned and present, the last report, and
whether an open station has fallen silent; per region, the totals."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from saylau.domain.calendar import Election
from saylau.readmodels import coverage as coverage_reads
from services.api.deps import PoolDep, ReachDep, SettingsDep, answer, calendars, region_asked

router = APIRouter(tags=["registries"])


def known_elections(schema: dict[str, Any]) -> None:
    """The document names the elections a calendar exists for (read when it is built)."""
    schema["enum"] = sorted(calendars().elections)


ElectionQuery = Annotated[str | None, Query(
    pattern=r"^[a-z0-9-]{1,64}$", json_schema_extra=known_elections,
    description="the election (its calendar in elections/); absent: the one running now")]
RegionQuery = Annotated[str | None, Query(min_length=1, max_length=100,
                                          pattern="^[^\\u0000]*$")]


def election_named(election_id: str | None, now: datetime) -> Election:
    """The election asked for, or the one whose window holds ``now``; else 422 naming it."""
    found = (calendars().get(election_id) if election_id
             else calendars().for_event(None, now))
    if found is None:
        known = ", ".join(sorted(calendars().elections))
        msg = (f"unknown election {election_id!r}" if election_id
               else "no election is running now: name one") + f" (known: {known})"
        raise HTTPException(422, [{"loc": ["query", "election_id"], "msg": msg,
                                   "type": "value_error"}])
    return found


@router.get("/v1/coverage", responses={
    401: {"description": "no or unknown key"},
    403: {"description": "a key without the read scope, or an observer's token"},
    422: {"description": "unknown election_id (or none running now), or a bad parameter"},
    503: {"description": "the database is unavailable; retry"}})
async def get_coverage(db: PoolDep, reach: ReachDep, cfg: SettingsDep,
                       election_id: ElectionQuery = None, region: RegionQuery = None) -> Any:
    """Per station: observers assigned and present now, the last report, ``silent`` (open for
    voting and nothing for ``SAYLAU_SILENT_MINUTES``); per region: the totals (of the
    caller's regions only, when bound to regions)."""
    now = datetime.now(UTC)
    election = election_named(election_id, now)
    async with db.acquire() as conn:
        return answer(await coverage_reads.coverage(
            conn, election, region and region_asked(region), now, cfg.saylau_silent_minutes,
            reach.filter()))
