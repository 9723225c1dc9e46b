"""Audit: the signed chain checkpoints published in the log, and the key that signs them."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from saylau.audit.anchors import published_checkpoints, published_public_key
from saylau.log.checkpoint import ALGORITHM, key_id
from saylau.web.contract import errors
from services.api.deps import AuditorDep, PoolDep, SettingsDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/checkpoints")
async def get_checkpoints(db: PoolDep, _: AuditorDep,
                          limit: Annotated[int, Query(ge=1, le=10000)] = 100) -> Any:
    """Signed checkpoints of the log's chain heads (``chain.checkpointed``), newest first."""
    async with db.acquire() as conn:
        return {"checkpoints": await published_checkpoints(conn, limit)}


@router.get("/public-key", responses=errors(
    404, s404="no operator key configured (SAYLAU_CHECKPOINT_PUBLIC_KEY)"))
async def get_public_key(cfg: SettingsDep) -> Any:
    """The operator's Ed25519 public key that checkpoints must be signed with."""
    public = published_public_key(cfg)
    if public is None:
        raise HTTPException(404, "no operator key configured: set "
                                 "SAYLAU_CHECKPOINT_PUBLIC_KEY (or SAYLAU_CHECKPOINT_KEY_FILE)")
    return {"algorithm": ALGORITHM, "public_key": public, "key_id": key_id(public)}
