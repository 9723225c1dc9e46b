"""One event exactly as appended."""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException

from saylau.readmodels import events as stored_events
from saylau.readmodels.evidence import files_of
from saylau.web.contract import errors
from services.api.deps import NamesDep, PoolDep, ReachDep, SettingsDep, answer

router = APIRouter()


@router.get("/v1/events/{event_id}", responses=errors(
    404, s404="no event with this id in the read models (yet)"))
async def get_event(event_id: uuid.UUID, db: PoolDep, shown: NamesDep, reach: ReachDep,
                    cfg: SettingsDep) -> Any:
    """One event exactly as appended (hashes included), with its triage status and its
    evidence files (its own and those attached later); one of another region than the
    caller's is answered as an unknown one."""
    async with db.acquire() as conn:
        found = await stored_events.event(conn, event_id, shown, reach.filter())
        if found is None:
            raise HTTPException(404, f"no event {event_id} in the read models (yet)")
        files = await files_of(conn, [event_id], cfg.ingest_schema, shown)
    return answer({**found, "evidence_files": files.get(event_id, [])})
