"""Pieces shared by the two HTTP services: auth, health, JSON logs, metrics."""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Annotated, Any, Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.responses import ORJSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from saylau.auth import KeyRing, Principal


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"ts": round(time.time(), 3), "level": record.levelname,
                           "logger": record.name, "msg": record.getMessage()})


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def keyring(request: Request) -> KeyRing:
    return request.app.state.keyring  # type: ignore[no-any-return]


def require(scope: str, allow_public: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's key must carry ``scope`` (401 no/bad key, 403 wrong scope)."""

    async def check(request: Request, ring: Annotated[KeyRing, Depends(keyring)]) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if not header and "access_token" in request.query_params:  # EventSource sends no headers
            scheme, key = "bearer", request.query_params["access_token"]
        if allow_public and getattr(request.app.state, "public_read", False) and not key:
            return Principal("public", frozenset({"read"}))
        if scheme.lower() != "bearer" or not key:
            raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})
        principal = await ring.principal(key.strip())
        if principal is None:
            raise HTTPException(401, "unknown or revoked API key",
                                headers={"WWW-Authenticate": "Bearer"})
        if scope not in principal.scopes:
            raise HTTPException(403, f"this key lacks the {scope!r} scope")
        return principal

    return check


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def unavailable(detail: str, retry_after: int = 2) -> ORJSONResponse:
    return ORJSONResponse({"detail": detail}, status_code=503,
                          headers={"Retry-After": str(retry_after)})


def problem(status: int, detail: Any) -> ORJSONResponse:
    return ORJSONResponse({"detail": detail}, status_code=status)
