"""Liveness, readiness and Prometheus metrics of the api."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from saylau.readmodels.tracking import log_problem
from saylau.web.contract import errors
from saylau.web.responses import JSONAnswer
from saylau.web.service import metrics_response, unavailable
from services.api.deps import BroadcasterDep, PoolDep, SettingsDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=errors(
    503, s503="not ready: PostgreSQL unavailable, the change feed not followed yet, or the "
              "read models not from the events topic as it is now"))
async def readyz(request: Request, db: PoolDep, broadcaster: BroadcasterDep,
                 cfg: SettingsDep) -> Response:
    """Ready when PostgreSQL answers and the change feed is followed."""
    # ... and the events topic is the one the read models came from (a topic recreated under
    # the running services is refused here too, even if the projector is not running).
    recreated = request.app.state.log_watch.refusal
    if recreated:
        return unavailable(f"log mismatch: {recreated}")
    # ... and the projector has not refused the log (the read models came from another log,
    # so their counts are not this log's): its verdict is in log_status.
    async with db.acquire() as conn:
        problem = await log_problem(conn, cfg.read_schema)
    if problem:
        return unavailable(f"log mismatch: {problem}")
    if not broadcaster.connected:
        return unavailable("change feed not connected yet")
    return JSONAnswer({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics."""
    return metrics_response()
