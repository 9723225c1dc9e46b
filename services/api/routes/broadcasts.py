"""GET /v1/broadcasts: the centre's messages to observers, and how many have read each."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from saylau.privacy.records import Names
from saylau.readmodels import broadcasts as broadcast_reads
from saylau.web.keys import Principal
from saylau.web.service import require
from services.api.deps import PoolDep, answer, may_see_names

router = APIRouter(tags=["broadcasts"])
StaffReader = Annotated[Principal, Depends(require("read"))]
"""A named ``read`` key or session (never the public): the messages are the centre's own."""


@router.get("/v1/broadcasts")
async def get_broadcasts(request: Request, db: PoolDep, who: StaffReader,
                         limit: int = Query(50, ge=1, le=500)) -> Any:
    """The latest messages sent to observers, newest first: text (withheld for readers who
    see no free text and cannot send messages themselves), whom they addressed, how many observers they reached (``addressed``)
    and how many of those have read them (``read``). A principal bound to regions sees only
    the messages addressed within her regions."""
    shown = Names(request.app.state.wiring.keys,
                  may_see_names(who) or "broadcast" in who.scopes)  # the centre's own words
    async with db.acquire() as conn:
        sent = await broadcast_reads.sent(conn, who.reach, shown, limit)
    return answer({"broadcasts": sent})
