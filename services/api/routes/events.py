"""One event exactly as appended."""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException

from saylau.readmodels import events as stored_events
from services.api.deps import NamesDep, PoolDep, answer

router = APIRouter()


@router.get("/v1/events/{event_id}")
async def get_event(event_id: uuid.UUID, db: PoolDep, shown: NamesDep) -> Any:
    """One event exactly as appended (hashes included), with its triage status."""
    async with db.acquire() as conn:
        found = await stored_events.event(conn, event_id, shown)
    if found is None:
        raise HTTPException(404, f"no event {event_id} in the read models (yet)")
    return answer(found)
