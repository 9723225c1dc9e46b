"""Flagged rule breaches, with their legal reference, and their summary per rule."""
from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from saylau.readmodels import breaches as breach_reads
from saylau.readmodels.evidence import files_of
from saylau.web_input import TIMESTAMP_EXAMPLE, Timestamp
from services.api.deps import PoolDep, ReaderDep, SettingsDep

router = APIRouter()


@router.get("/v1/breaches")
async def get_breaches(db: PoolDep, _: ReaderDep, cfg: SettingsDep, rule: str | None = None,
                       severity: str | None = None, region: str | None = None,
                       since: Annotated[Timestamp | None, Query(examples=[TIMESTAMP_EXAMPLE])] = None,
                       status: str | None = None,
                       limit: int = Query(1000, ge=1, le=10000)) -> Any:
    """Flagged rule breaches with their legal reference and evidence files, newest first."""
    async with db.acquire() as conn:
        found = await breach_reads.list_breaches(conn, rule, severity, region, since, status,
                                                 limit)
        files = await files_of(conn, [uuid.UUID(i) for b in found for i in b["event_ids"]],
                               cfg.ingest_schema)
    return {"breaches": [{**b, "evidence_files": [f for i in b["event_ids"]
                                                  for f in files.get(uuid.UUID(i), [])]}
                         for b in found]}


@router.get("/v1/breaches/summary")
async def get_breach_summary(db: PoolDep, _: ReaderDep) -> Any:
    """Open breaches counted per rule and per article of law."""
    async with db.acquire() as conn:
        return {"rules": await breach_reads.breach_summary(conn)}
