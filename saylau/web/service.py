"""Pieces shared by the two HTTP services: auth, health, JSON logs, metrics."""
from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from saylau.web.contract import answers
from saylau.web.keys import OBSERVER_TOKEN_PREFIX, KeyRing, Principal
from saylau.web.responses import JSONAnswer
from saylau.web.sessions import CSRF_HEADER, origins, reading, session_principal


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(time.time(), 3), "level": record.levelname,
                 "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


async def keyring(request: Request) -> KeyRing:
    """Async, so FastAPI calls it on the event loop (no thread-pool hop per request)."""
    return request.app.state.keyring  # type: ignore[no-any-return]


def require(scope: str, allow_public: bool = False, observers: bool = False,
            sessions: bool | str = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's key must carry ``scope`` (401 no/bad key, 403 wrong scope);
    with ``observers``, an observer's token passes too (what she may post is the intake's
    to decide). A revoked observer's token is a 401 with the reason. The dashboard's session
    cookie passes for ``read`` on GET; with ``sessions``, for this route's writes too (with
    its CSRF token and an allowed Origin, else 403), holding ``scope`` (or the scope
    ``sessions`` names, e.g. ``triage`` where a key needs ``ingest``)."""
    session_scope = sessions if isinstance(sessions, str) else scope

    async def check(request: Request, ring: Annotated[KeyRing, Depends(keyring)]) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if not header and "access_token" in request.query_params:  # EventSource sends no headers
            scheme, key = "bearer", request.query_params["access_token"]
        if not header and not key and (scope == "read" or sessions):
            signed_in = await session_principal(request, ring, writes=bool(sessions))
            if signed_in is not None and (scope if reading(request) else session_scope) \
                    in signed_in.scopes:
                request.state.signed_in = True
                return signed_in
            if signed_in is not None and not reading(request):
                raise HTTPException(403, f"this account or key lacks the {session_scope!r} "
                                         "scope")
        if allow_public and getattr(request.app.state, "public_read", False) and not key:
            return Principal("public", frozenset({"read"}))
        return await key_principal(ring, scheme, key, scope, observers)

    answers(check, {401: "no key, or an unknown or revoked one",
                    403: f"the key lacks the {scope!r} scope" + (
                        "; a write with the dashboard session without its X-CSRF-Token or "
                        "from an origin not allowed" if sessions else ""),
                    503: "PostgreSQL, where keys are kept, is unavailable; retry"},
            schemes=("bearer", "session") if scope == "read" or sessions else ("bearer",),
            public=allow_public, session_writes=bool(sessions))
    return check


async def key_principal(ring: KeyRing, scheme: str, key: str, scope: str,
                        observers: bool = False) -> Principal:
    """The principal of a Bearer ``key`` holding ``scope``: 401 without a key or with an
    unknown (or revoked) one, 403 without the scope; an observer's token as
    ``observer_passes`` says. Every route's key check ends here, and ingest's hot path
    (``services/ingest/fastpath.py``) calls it too (for ``ingest`` alone: her reports go on to
    the route, which hands the intake her grant)."""
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await ring.principal(key.strip())
    if principal is None:
        raise HTTPException(401, unknown(key.strip()), headers={"WWW-Authenticate": "Bearer"})
    if principal.observer is not None:
        return observer_passes(principal, scope, observers)
    if scope not in principal.scopes:
        raise HTTPException(403, f"this key lacks the {scope!r} scope")
    return principal


def unknown(key: str) -> str:
    if key.startswith(OBSERVER_TOKEN_PREFIX):
        return "unknown or expired observer token: sign in again (POST /v1/observer/session)"
    return "unknown or revoked API key"


def observer_passes(principal: Principal, scope: str, observers: bool) -> Principal:
    """An observer's token: 401 once her accreditation is revoked, else only where a route
    takes observers (posting reports, her ``/v1/observer/me``)."""
    grant = principal.observer
    if grant is not None and grant.revoked is not None:
        raise HTTPException(401, f"accreditation revoked: {grant.revoked}",
                            headers={"WWW-Authenticate": "Bearer"})
    if not observers and scope not in principal.scopes:
        raise HTTPException(403, "an observer token may only post reports and evidence to "
                                 "ingest and read GET /v1/observer/me")
    return principal


@dataclass
class RateLimiter:
    """A token bucket per partner: ``rate`` requests a second on average, ``burst`` at once."""

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def wait_for(self, partner: str, now: float | None = None) -> float:
        """Take a token for ``partner``: 0 when granted, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.get(partner, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self.buckets[partner] = (tokens - 1, now)
            return 0.0
        self.buckets[partner] = (tokens, now)
        return (1 - tokens) / self.rate


def rate_limited(scope: str, observers: bool = False,
                 sessions: bool | str = False) -> Callable[..., Awaitable[Principal]]:
    """``require(scope, observers=…, sessions=…)``, then the partner's rate limit (429 with
    Retry-After when spent; each observer is a partner of her own, each account too)."""

    authenticated = Depends(require(scope, observers=observers, sessions=sessions))

    async def check(request: Request, principal: Principal = authenticated) -> Principal:
        take_token(request.app.state.limiter, principal.partner)
        return principal

    answers(check, {429: "the partner's rate limit is spent; retry after Retry-After seconds"})
    return check


def take_token(limiter: RateLimiter, partner: str) -> None:
    """A token of ``partner``'s rate limit, else 429 with Retry-After (a refusal takes none,
    so asking again is answered alike)."""
    wait = limiter.wait_for(partner)
    if wait:
        raise HTTPException(429, f"rate limit for {partner!r} reached; retry later",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})


def allow_cors(app: FastAPI, partners: str, dashboards: str = "") -> None:
    """CORS stays closed (no Access-Control-* headers) unless origins are configured; the
    dashboard's origins (``SAYLAU_DASHBOARD_ORIGINS``) are answered with credentials, so
    its session cookie goes with its writes (which ``refuse_forged`` checks, by Origin and
    CSRF token, whatever CORS allowed)."""
    allowed = origins(partners) + origins(dashboards)
    app.state.dashboard_origins = frozenset(origins(dashboards))
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_methods=["GET", "POST"],
                           allow_credentials=bool(origins(dashboards)),
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID",
                                          CSRF_HEADER])


class BodyTooLarge(Exception):
    """The request body passed its limit; answer 413."""


def declared_within(declared: str | None, limit: int) -> None:
    """BodyTooLarge when the declared Content-Length passes ``limit``."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body over {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read in chunks and refused (BodyTooLarge) as soon as it passes limit."""
    declared_within(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
    return bytes(body)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def unavailable(detail: str, retry_after: int = 2) -> JSONAnswer:
    return JSONAnswer({"detail": detail}, status_code=503,
                          headers={"Retry-After": str(retry_after)})


def problem(status: int, detail: Any) -> JSONAnswer:
    return JSONAnswer({"detail": detail}, status_code=status)
