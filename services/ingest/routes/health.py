"""Liveness, readiness and Prometheus metrics of the ingest service."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from saylau.web.contract import errors
from saylau.web.responses import JSONAnswer
from saylau.web.service import metrics_response, unavailable

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=errors(503, s503="not ready: PostgreSQL or Kafka "
                                                  "unavailable, or the events topic is not "
                                                  "the one verified at start"))
async def readyz(request: Request) -> Response:
    """Ready when PostgreSQL answers, the broker's metadata is known and the events topic is
    still the one verified at start (not recreated under the running service)."""
    wiring = request.app.state.wiring
    if wiring.intake.watch.refusal is not None:
        return unavailable(f"log mismatch: {wiring.intake.watch.refusal}")
    try:
        await wiring.pool.fetchval("SELECT 1")
        await wiring.producer.client.fetch_all_metadata()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return unavailable(f"not ready: {exc}")
    return JSONAnswer({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics."""
    return metrics_response()
