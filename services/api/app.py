"""Monitoring API: live views of the read models for monitoring centres, REST + SSE."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import ORJSONResponse, Response, StreamingResponse

from saylau import queries
from saylau.auth import KeyRing, parse_env_keys
from saylau.db import connect_pool, migrate
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from saylau.web import allow_cors, metrics_response, setup_logging, unavailable
from saylau.web_errors import install_error_handling
from saylau.web_input import INT8_MAX, Timestamp, parse_cursor
from services.api import admin_routes, dashboard_routes, field_routes, webhooks_routes
from services.api.deps import Pool, ReadKey, may_see_names
from services.api.live import Broadcaster, ChangeFilter, Subscriber, sse

BACKFILL_LIMIT = 10000
KEEPALIVE_SECONDS = 15


def create_app(config: Settings | None = None) -> FastAPI:
    cfg = config or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging()
        pool = await connect_pool(cfg.dsn, max_size=10)
        async with pool.acquire() as conn:
            await migrate(conn, cfg.read_schema, cfg.ingest_schema)
        await pool.close()
        app.state.pool = await asyncpg.create_pool(
            cfg.dsn, min_size=1, max_size=10, command_timeout=10, timeout=5,
            server_settings={"search_path": cfg.read_schema})
        app.state.keyring = KeyRing(parse_env_keys(cfg.saylau_api_keys), app.state.pool,
                                     cfg.ingest_schema)
        app.state.public_read = cfg.public_read
        app.state.broadcaster = Broadcaster(cfg.dsn, cfg.read_schema)
        await app.state.broadcaster.start()
        app.state.producer, app.state.producer_lock = None, asyncio.Lock()
        yield
        await app.state.broadcaster.stop()
        await app.state.pool.close()
        if app.state.producer is not None:
            await app.state.producer.stop()

    app = FastAPI(title="Saylau Watch monitoring API", version="1", lifespan=lifespan,
                  default_response_class=ORJSONResponse)

    install_error_handling(app)
    app.state.settings = cfg
    allow_cors(app, cfg.cors_origins)
    add_routes(app)
    dashboard_routes.install(app)
    return app


def add_routes(app: FastAPI) -> None:
    app.include_router(webhooks_routes.router)
    app.include_router(field_routes.router)
    app.include_router(admin_routes.router)
    @app.get("/v1/stations")
    async def list_stations(db: Pool, _: ReadKey, region: str | None = None,
                            limit: int = Query(500, ge=1, le=10000)) -> Any:
        """Polling stations with incidents, most incidents first."""
        async with db.acquire() as conn:
            return {"stations": await queries.stations(conn, region, limit)}

    @app.get("/v1/stations/{station_id}")
    async def get_station(station_id: str, db: Pool, _: ReadKey) -> Any:
        """Incidents at one polling station, by type."""
        async with db.acquire() as conn:
            found = await queries.station(conn, station_id)
        if found is None:
            raise HTTPException(404, f"no reports for station {station_id!r}")
        return found

    @app.get("/v1/stations/{station_id}/timeline")
    async def get_timeline(station_id: str, db: Pool, who: ReadKey) -> Any:
        """Every report about one station, in time order, with its triage status."""
        async with db.acquire() as conn:
            events = await queries.station_timeline(conn, station_id, not may_see_names(who))
        return {"station_id": station_id, "events": events}

    @app.get("/v1/detentions")
    async def get_detentions(db: Pool, _: ReadKey, as_of: Timestamp | None = None) -> Any:
        """Detained total / released / detained now per city; ``as_of`` for a past moment."""
        async with db.acquire() as conn:
            return await queries.detentions(conn, as_of)

    @app.get("/v1/breaches")
    async def get_breaches(db: Pool, _: ReadKey, rule: str | None = None,
                           severity: str | None = None, region: str | None = None,
                           since: Timestamp | None = None, status: str | None = None,
                           limit: int = Query(1000, ge=1, le=10000)) -> Any:
        """Flagged rule breaches with their legal reference, newest first."""
        async with db.acquire() as conn:
            return {"breaches": await queries.breaches(conn, rule, severity, region, since,
                                                       status, limit)}

    @app.get("/v1/breaches/summary")
    async def get_breach_summary(db: Pool, _: ReadKey) -> Any:
        """Open breaches counted per rule and per article of law."""
        async with db.acquire() as conn:
            return {"rules": await queries.breach_summary(conn)}

    @app.get("/v1/regions")
    async def get_regions(db: Pool, _: ReadKey) -> Any:
        """Per-region roll-up: stations with incidents, detentions, open breaches."""
        async with db.acquire() as conn:
            return {"regions": await queries.regions(conn)}

    @app.get("/v1/timeline")
    async def get_report_timeline(db: Pool, _: ReadKey,
                                  bucket_minutes: int = Query(10, ge=1, le=1440),
                                  limit: int = Query(144, ge=1, le=5000)) -> Any:
        """Reports per time bucket (latest buckets) and the change cursor the counts include."""
        async with db.acquire() as conn:
            return await queries.report_timeline(conn, bucket_minutes, limit)

    @app.get("/v1/triage")
    async def get_triage(db: Pool, who: ReadKey,
                         limit: int = Query(200, ge=1, le=5000)) -> Any:
        """The triage queue: unverified reports, urgent first, with claim, urgency and notes."""
        async with db.acquire() as conn:
            return {"reports": await queries.triage_queue(conn, limit, not may_see_names(who))}

    @app.get("/v1/events/{event_id}")
    async def get_event(event_id: uuid.UUID, db: Pool, who: ReadKey) -> Any:
        """One event exactly as appended (hashes included), with its triage status."""
        async with db.acquire() as conn:
            found = await queries.event(conn, event_id, not may_see_names(who))
        if found is None:
            raise HTTPException(404, f"no event {event_id} in the read models (yet)")
        return found

    @app.get("/v1/live")
    async def live(request: Request, _: ReadKey, region: str | None = None,
                   station: str | None = None, kinds: str | None = None,
                   cursor: int | None = Query(None, ge=0, le=INT8_MAX),
                   last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
        """Server-Sent Events: each read-model change with its cursor (resume: Last-Event-ID)."""
        start = parse_cursor(last_event_id, cursor)
        wanted = ChangeFilter(set(filter(None, (region or "").split(","))),
                              set(filter(None, (station or "").split(","))),
                              set(filter(None, (kinds or "").split(","))))
        return StreamingResponse(stream_changes(request, wanted, start),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(db: Pool, request: Request) -> Response:
        """Ready when PostgreSQL answers and the change feed is followed."""
        await db.fetchval("SELECT 1")
        if not request.app.state.broadcaster.connected:
            return unavailable("change feed not connected yet")
        return ORJSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics."""
        return metrics_response()


def sse_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {orjson.dumps(data).decode()}\n\n"


async def stream_changes(request: Request, wanted: ChangeFilter,
                         start: int | None) -> AsyncIterator[str]:
    broadcaster: Broadcaster = request.app.state.broadcaster
    sub = broadcaster.subscribe(wanted)
    try:
        sent = broadcaster.cursor if start is None else start
        yield "retry: 1000\n" + sse_event("hello", {"cursor": sent})
        if start is not None:
            missed = await backfill(request, wanted, start)
            if missed is None:
                yield sse_event("resync", {"reason": "too far behind"})
                return
            text, sent = missed
            yield text
        async for text in live_tail(sub, sent):
            yield text
    finally:
        broadcaster.unsubscribe(sub)


async def backfill(request: Request, wanted: ChangeFilter,
                   start: int) -> tuple[str, int] | None:
    """The changes after ``start`` from the table, ending in ``caught_up``; None if too many."""
    async with request.app.state.pool.acquire() as conn:
        missed = await queries.changes_after(conn, start, BACKFILL_LIMIT)
    if len(missed) == BACKFILL_LIMIT:
        return None
    sent = missed[-1]["cursor"] if missed else start
    text = "".join(sse(c) for c in missed if wanted.wants(c))
    return text + sse_event("caught_up", {"cursor": sent, "missed": len(missed)}), sent


async def live_tail(sub: Subscriber, sent: int) -> AsyncIterator[str]:
    """Queued changes past ``sent``, several per write under load; ends with ``resync``."""
    while True:
        items = await sub.take(KEEPALIVE_SECONDS)
        if not items:
            yield ": keepalive\n\n"
            continue
        fresh = [c for c in items if c is not None and c["cursor"] > sent]
        if fresh:
            sent = fresh[-1]["cursor"]
            yield "".join(c["sse"] for c in fresh)
        if items[-1] is None:
            yield sse_event("resync", {"reason": "subscriber too slow"})
            return


app = create_app()
