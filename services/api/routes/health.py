"""Liveness, readiness and Prometheus metrics of the api."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import ORJSONResponse, Response

from saylau.web import metrics_response, unavailable
from services.api.deps import BroadcasterDep, PoolDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(db: PoolDep, broadcaster: BroadcasterDep) -> Response:
    """Ready when PostgreSQL answers and the change feed is followed."""
    await db.fetchval("SELECT 1")
    if not broadcaster.connected:
        return unavailable("change feed not connected yet")
    return ORJSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics."""
    return metrics_response()
