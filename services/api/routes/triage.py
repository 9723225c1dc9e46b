"""The triage queue of unverified reports."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from saylau.readmodels import triage as triage_reads
from saylau.store import paging
from saylau.store.paging import MAX_PAGE
from services.api.deps import CursorQuery, NamesDep, PoolDep, ReachDep, after, answer

router = APIRouter()


@router.get("/v1/triage")
async def get_triage(db: PoolDep, shown: NamesDep, reach: ReachDep,
                     limit: int = Query(200, ge=1, le=MAX_PAGE),
                     cursor: CursorQuery = None) -> Any:
    """The triage queue: unverified reports, urgent first, with claim, urgency and notes
    (keyset pages); the caller's regions' reports only, when bound to regions."""
    key = after("triage", cursor, (paging.integer, paging.timestamp, paging.uuid_text))
    async with db.acquire() as conn:
        reports, next_cursor = await triage_reads.triage_queue_page(conn, limit, shown, key,
                                                                  reach.filter())
    return answer({"reports": reports, "next": next_cursor})
