"""Ingest service: partners POST reports; each is appended to the Kafka log once acknowledged."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import ORJSONResponse, Response
from prometheus_client import Counter

from saylau.auth import KeyRing, Principal, parse_env_keys
from saylau.catalogue import catalogue
from saylau.db import UNAVAILABLE, connect_pool, migrate
from saylau.kafka import ensure_topics, make_producer
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from saylau.web import (
    BodyTooLarge,
    RateLimiter,
    allow_cors,
    metrics_response,
    problem,
    rate_limited,
    read_body,
    setup_logging,
    unavailable,
)
from saylau.web_errors import install_error_handling
from services.ingest import channels
from services.ingest.intake import INGEST_ONLY, Intake, Outcome

log = logging.getLogger("saylau.ingest")
MAX_BODY = 1024 * 1024
MAX_BATCH_BODY = 16 * MAX_BODY
MAX_BATCH = 1000
ACCEPTED = Counter("saylau_events_accepted_total", "Events acknowledged by the broker")
REJECTED = Counter("saylau_events_rejected_total", "Events not appended", ["reason"])
IngestKey = Annotated[Principal, Depends(rate_limited("ingest"))]
ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}


def create_app(config: Settings | None = None) -> FastAPI:
    cfg = config or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging()
        pool = await connect_pool(cfg.dsn, max_size=8, search_path=cfg.ingest_schema)
        async with pool.acquire() as conn:
            await migrate(conn, cfg.read_schema, cfg.ingest_schema)
        await ensure_topics(cfg)
        producer = make_producer(cfg)
        await producer.start()
        partitions = len(await producer.partitions_for(cfg.events_topic))
        app.state.keyring = KeyRing(parse_env_keys(cfg.saylau_api_keys), pool, cfg.ingest_schema)
        app.state.intake = Intake(producer, pool, catalogue(), cfg.events_topic, partitions)
        app.state.pool, app.state.producer = pool, producer
        yield
        await producer.stop()
        await pool.close()

    app = FastAPI(title="Saylau Watch ingest", version="1", lifespan=lifespan,
                  default_response_class=ORJSONResponse)
    install_error_handling(app)
    app.state.limiter = RateLimiter(cfg.rate_limit_per_second, cfg.rate_limit_burst)
    allow_cors(app, cfg.cors_origins)
    add_routes(app)
    return app


async def read_json(request: Request, limit: int) -> Any | ORJSONResponse:
    try:
        body = await read_body(request, limit)
    except BodyTooLarge as exc:
        return problem(413, str(exc))
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        REJECTED.labels("malformed_json").inc()
        return problem(400, f"body is not valid JSON (UTF-8): {exc}")


async def submit(request: Request, items: list[Any], partner: str,
                 scopes: frozenset[str] = INGEST_ONLY) -> list[Outcome] | Response:
    try:
        outcomes: list[Outcome] = await request.app.state.intake.submit(items, partner, scopes)
    except UNAVAILABLE as exc:
        log.warning("database unavailable: %s", exc)
        return unavailable("database unavailable; nothing was appended")
    for o in outcomes:
        (ACCEPTED.inc() if o.code == 202 else REJECTED.labels(o.status).inc())
    return outcomes


def add_routes(app: FastAPI) -> None:
    app.include_router(channels.router)
    @app.post("/v1/events", status_code=202, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": ENVELOPE_REF}}}})
    async def post_event(request: Request, principal: IngestKey) -> Response:
        """Append one report; 202 once the broker acknowledged it, 200 for a re-sent id."""
        item = await read_json(request, MAX_BODY)
        if isinstance(item, Response):
            return item
        outcomes = await submit(request, [item], principal.partner, principal.scopes)
        if isinstance(outcomes, Response):
            return outcomes
        outcome = outcomes[0]
        if outcome.code == 503:
            return unavailable("Kafka did not acknowledge the event; it was not accepted")
        if outcome.code == 422:
            return problem(422, [e.as_dict() for e in outcome.errors])
        if outcome.code in (403, 409):
            return problem(outcome.code, [e.as_dict() for e in outcome.errors])
        return ORJSONResponse(outcome.body(), status_code=outcome.code)

    @app.post("/v1/events:batch", openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": {
            "type": "array", "maxItems": MAX_BATCH, "items": ENVELOPE_REF}}}}})
    async def post_batch(request: Request, principal: IngestKey) -> Response:
        """Append up to 1,000 reports; one result per item, in order."""
        items = await read_json(request, MAX_BATCH_BODY)
        if isinstance(items, Response):
            return items
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            return problem(422, [{"loc": ["body"],
                                  "msg": f"a JSON array of 1 to {MAX_BATCH} events"}])
        outcomes = await submit(request, items, principal.partner, principal.scopes)
        if isinstance(outcomes, Response):
            return outcomes
        results = [{"index": i, "code": o.code, **o.body()} for i, o in enumerate(outcomes)]
        return ORJSONResponse({"results": results,
                               "accepted": sum(o.code == 202 for o in outcomes)})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        """Ready when PostgreSQL answers and the broker's metadata is known."""
        try:
            await request.app.state.pool.fetchval("SELECT 1")
            await request.app.state.producer.client.fetch_all_metadata()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return unavailable(f"not ready: {exc}")
        return ORJSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics."""
        return metrics_response()

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original_openapi()
        from saylau.envelope import Envelope
        schema.setdefault("components", {}).setdefault("schemas", {})["Envelope"] = (
            Envelope.model_json_schema(ref_template="#/components/schemas/{model}"))
        defs = schema["components"]["schemas"]["Envelope"].pop("$defs", {})
        schema["components"]["schemas"].update(defs)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
