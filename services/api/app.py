"""Monitoring API: live views of the read models for monitoring centres, REST + SSE.

A thin factory: ``bootstrap`` wires the pool, the routers under ``services/api/routes``
serve one resource each. ``uvicorn services.api.app:app`` builds the app on first access.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from saylau.bootstrap import Needs, bootstrap
from saylau.collector import quiet_collector
from saylau.log.watch import LogWatch
from saylau.readmodels.tracking import recorded_topic_id
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from saylau.web.accounts import StaffAccounts
from saylau.web.contract import publish
from saylau.web.errors import install_error_handling
from saylau.web.lockout import PinHasher
from saylau.web.responses import JSONAnswer
from saylau.web.service import allow_cors, setup_logging
from saylau.web.sessions import PostgresSessions
from services.api.links import add_links
from services.api.live import Broadcaster
from services.api.read_cache import ReadCache
from services.api.routes import (
    admin,
    audit,
    breaches,
    broadcasts,
    coverage,
    dashboard,
    detentions,
    events,
    evidence,
    export,
    health,
    incidents,
    live,
    maps,
    quickcount,
    regions,
    stations,
    timeline,
    triage,
    webhooks,
)

ROUTERS = (webhooks, incidents, regions, coverage, quickcount, admin, audit, stations,
           detentions, breaches, broadcasts, timeline, triage, events, evidence, export, live,
           maps, dashboard, health)


def create_app(config: Settings | None = None) -> FastAPI:
    """The api; its lifespan bootstraps the pool and follows the change feed."""
    cfg = config or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging()
        wiring = await bootstrap(cfg, Needs(search_path=cfg.read_schema, command_timeout=10,
                                            keys=True, evidence=True))
        app.state.wiring, app.state.keyring = wiring, wiring.keyring
        app.state.sessions = PostgresSessions(wiring.pool, cfg.ingest_schema)
        app.state.accounts = StaffAccounts(wiring.pool, cfg.ingest_schema, PinHasher())
        app.state.broadcaster = Broadcaster(cfg.dsn, cfg.read_schema)
        app.state.producer_lock = asyncio.Lock()
        await app.state.broadcaster.start()
        app.state.log_watch = LogWatch(
            cfg.kafka_bootstrap, cfg.events_topic, "api",
            verified=lambda: recorded_topic_id(wiring.pool, cfg.read_schema, cfg.events_topic))
        watching = asyncio.create_task(app.state.log_watch.run(cfg.log_watch_seconds))
        quiet_collector()
        yield
        watching.cancel()
        await app.state.broadcaster.stop()
        await wiring.close()

    app = FastAPI(title="Saylau Watch monitoring API", version="1", lifespan=lifespan,
                  default_response_class=JSONAnswer)
    app.add_middleware(ReadCache, seconds=cfg.read_cache_seconds)  # inside the request ids
    install_error_handling(app)
    app.state.public_read = cfg.public_read
    app.state.ingest_url = cfg.saylau_ingest_url or cfg.ingest_url
    allow_cors(app, cfg.cors_origins, cfg.saylau_dashboard_origins)
    for module in ROUTERS:
        app.include_router(module.router)
    dashboard.install(app, app.state.ingest_url, cfg.saylau_map_tiles)
    publish(app, add_links)
    return app


def __getattr__(name: str) -> FastAPI:
    """``services.api.app:app`` for uvicorn: built when asked for, once."""
    if name != "app":
        raise AttributeError(name)
    globals()["app"] = built = create_app()
    return built
