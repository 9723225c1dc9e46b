"""Flagged rule breaches, with their legal reference, and their summary per rule."""
from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from saylau.readmodels import breaches as breach_reads
from saylau.readmodels import rollups
from saylau.readmodels.evidence import files_of
from saylau.store import paging
from saylau.store.paging import MAX_PAGE
from saylau.web.contract import errors
from saylau.web.input import TIMESTAMP_EXAMPLE, Timestamp
from services.api.deps import (
    CursorQuery,
    NamesDep,
    PoolDep,
    ReachDep,
    SettingsDep,
    after,
    answer,
    region_asked,
)

router = APIRouter()


@router.get("/v1/breaches")
async def get_breaches(db: PoolDep, shown: NamesDep, reach: ReachDep, cfg: SettingsDep,
                       rule: str | None = None,
                       severity: str | None = None, region: str | None = None,
                       since: Annotated[Timestamp | None, Query(examples=[TIMESTAMP_EXAMPLE])] = None,
                       status: str | None = None,
                       limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE),
                       cursor: CursorQuery = None) -> Any:
    """Flagged rule breaches with their legal reference and evidence files, newest first
    (keyset pages); of the caller's regions only, when bound to regions."""
    key = after("breaches", cursor, (paging.timestamp, paging.uuid_text))
    async with db.acquire() as conn:
        found, next_cursor = await breach_reads.list_breaches(
            conn, rule, severity, region and region_asked(region), since, status, limit, key,
            reach.filter())
        files = await files_of(conn, [uuid.UUID(i) for b in found for i in b["event_ids"]],
                               cfg.ingest_schema, shown)
    return answer({"breaches": [{**b, "evidence_files": [f for i in b["event_ids"]
                                                         for f in files.get(uuid.UUID(i), [])]}
                                for b in found], "next": next_cursor})


@router.get("/v1/breaches/summary")
async def get_breach_summary(db: PoolDep, reach: ReachDep) -> Any:
    """Open breaches counted per rule and per article of law (of the caller's regions only,
    when bound to regions)."""
    async with db.acquire() as conn:
        return answer({"rules": await rollups.breach_summary(conn, reach.filter())})


@router.get("/v1/breaches/{breach_id}/events", responses=errors(
    404, s404="no breach with this id"))
async def get_breach_events(breach_id: uuid.UUID, db: PoolDep, reach: ReachDep,
                            limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE),
                            cursor: CursorQuery = None) -> Any:
    """Every event a breach cites (its evidence), by event id, in keyset pages."""
    key = after("breach_events", cursor, (paging.text,))
    async with db.acquire() as conn:
        found = await breach_reads.breach_evidence(conn, breach_id, limit, key and key[0],
                                                   reach.filter())
    if found is None:
        raise HTTPException(404, f"no breach {breach_id}")
    return answer(found)
