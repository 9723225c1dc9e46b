"""Polling stations with incidents: the list, one station, its reports in time order."""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from saylau.readmodels import events as stored_events
from saylau.readmodels import stations as station_reads
from saylau.readmodels import triage as triage_reads
from saylau.readmodels.evidence import files_of
from saylau.store import paging
from saylau.store.paging import MAX_PAGE
from saylau.web.contract import errors
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


@router.get("/v1/stations")
async def list_stations(db: PoolDep, reach: ReachDep, region: str | None = None,
                        limit: int = Query(500, ge=1, le=MAX_PAGE),
                        cursor: CursorQuery = None) -> Any:
    """Polling stations with incidents, by station id, a keyset page (``next``); of the
    caller's regions only, when bound to regions."""
    key = after("stations", cursor, (paging.text,))
    async with db.acquire() as conn:
        rows = await station_reads.list_stations(conn, region and region_asked(region),
                                                 limit + 1, key and key[0], reach.filter())
    shown, next_cursor = paging.page("stations", rows, limit, lambda r: [r["station_id"]])
    return answer({"stations": shown, "next": next_cursor})


@router.get("/v1/stations/{station_id}", responses=errors(
    404, s404="no report about this station"))
async def get_station(station_id: str, db: PoolDep, reach: ReachDep) -> Any:
    """Incidents at one polling station, by type (a station of another region than the
    caller's is answered as an unknown one)."""
    async with db.acquire() as conn:
        found = await station_reads.station(conn, station_id) \
            if await station_reads.station_in(conn, station_id, reach.filter()) else None
    if found is None:
        raise HTTPException(404, f"no reports for station {station_id!r}")
    return found


@router.get("/v1/stations/{station_id}/timeline")
async def get_timeline(station_id: str, db: PoolDep, shown: NamesDep, reach: ReachDep,
                       cfg: SettingsDep, limit: int = Query(500, ge=1, le=MAX_PAGE),
                       cursor: CursorQuery = None) -> Any:
    """Every report about one station, in time order, with its triage status, who triaged
    it (``triage``: claim, urgency, notes, each with its ``actor``) and evidence files
    (keyset pages); none at a station of another region than the caller's, as at an unknown
    one."""
    key = after("station_timeline", cursor, (paging.timestamp, paging.uuid_text))
    async with db.acquire() as conn:
        if not await station_reads.station_in(conn, station_id, reach.filter()):
            return answer({"station_id": station_id, "next": None, "events": []})
        events, next_cursor = await stored_events.station_timeline(
            conn, station_id, shown, limit, key)
        ids = [uuid.UUID(e["event_id"]) for e in events]
        files = await files_of(conn, ids, cfg.ingest_schema, shown)
        handled = await triage_reads.triage_summaries(conn, ids, shown)
    return answer({"station_id": station_id, "next": next_cursor, "events": [
        {**e, "evidence_files": files.get(uuid.UUID(e["event_id"]), []),
         "triage": handled.get(uuid.UUID(e["event_id"]), triage_reads.triage_summary([]))}
        for e in events]})
