"""Ingest service: partners POST reports; each is appended to the Kafka log once acknowledged.
It also serves the observer app (``/observe/``), whose reports come back through the same routes.

HTTP only: the routes read the request and call the intake service (``saylau.intake``).
``uvicorn services.ingest.app:app`` builds the app on first access, not at import.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import Response

from saylau.bootstrap import Needs, bootstrap
from saylau.collector import quiet_collector
from saylau.intake.outcome import Unavailable
from saylau.settings import Settings
from saylau.settings import settings as load_settings
from saylau.web.accounts import StaffAccounts
from saylau.web.contract import publish
from saylau.web.errors import install_error_handling
from saylau.web.observers import AddressLimiter, ObserverSignIn, PinHasher
from saylau.web.responses import JSONAnswer
from saylau.web.service import RateLimiter, allow_cors, setup_logging, unavailable
from saylau.web.sessions import PostgresSessions
from services.ingest.contract import add_schemas
from services.ingest.fastpath import IngestApp
from services.ingest.routes import (
    broadcasts,
    channels,
    events,
    evidence,
    health,
    observe,
    observer,
    quickcount,
)


def create_app(config: Settings | None = None) -> FastAPI:
    """The ingest app; its lifespan bootstraps pool, producer and intake service."""
    cfg = config or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging()
        wiring = await bootstrap(cfg, Needs(search_path=cfg.ingest_schema, pool_size=8,
                                            session_reset=False, intake=True,
                                            evidence=True))
        app.state.wiring, app.state.keyring = wiring, wiring.keyring
        hasher = PinHasher()
        app.state.observer_signin = ObserverSignIn(wiring.pool, cfg.ingest_schema, hasher,
                                                   cfg.observer_token_hours)
        app.state.sessions = PostgresSessions(wiring.pool, cfg.ingest_schema)
        app.state.accounts = StaffAccounts(wiring.pool, cfg.ingest_schema, hasher)
        watching = asyncio.create_task(wiring.intake.watch.run(cfg.log_watch_seconds))
        quiet_collector()
        yield
        watching.cancel()
        await wiring.close()

    app = IngestApp(title="Saylau Watch ingest", version="1", lifespan=lifespan,
                  default_response_class=JSONAnswer)
    install_error_handling(app)
    app.state.limiter = RateLimiter(cfg.rate_limit_per_second, cfg.rate_limit_burst)
    app.state.signin_limiter = AddressLimiter(cfg.observer_signin_per_minute)
    app.add_exception_handler(Unavailable, database_down)
    allow_cors(app, cfg.cors_origins, cfg.saylau_dashboard_origins)
    for router in (channels.router, events.router, broadcasts.router, evidence.router,
                   observer.router, quickcount.router, health.router):
        app.include_router(router)
    observe.install(app)
    publish(app, add_schemas)
    return app


async def database_down(request: Request, exc: Exception) -> Response:
    """Nothing was appended: 503 with Retry-After, the sender retries."""
    return unavailable(str(exc))


def __getattr__(name: str) -> FastAPI:
    """``services.ingest.app:app`` for uvicorn: built when asked for, once."""
    if name != "app":
        raise AttributeError(name)
    globals()["app"] = built = create_app()
    return built
