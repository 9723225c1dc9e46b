"""Errors answered by whose fault they are, each answer with a request id.

* the database is away (connection lost, shutdown, too many connections, timeout): 503 with
  ``Retry-After``; retrying helps;
* the request carried what the database refuses (PostgreSQL classes 22 and 23, NUL bytes,
  out-of-range numbers): 4xx, never retried; NUL in a path or query string is refused before
  any route runs, naming the parameter;
* anything else is a bug: 500, logged with the request id the answer carries, never a 503
  that a well-behaved client would retry forever.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saylau.store.db import classify
from saylau.web.input import NUL_MSG, find_nul
from saylau.web.responses import JSONAnswer

REQUEST_ID_HEADER = "X-Request-ID"
CALLER_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                   OSError, TimeoutError)
log = logging.getLogger("saylau.web.service.errors")


def request_id(scope: Scope) -> str:
    """The id of the request being answered ('' outside one)."""
    return str(scope.get("state", {}).get("request_id", ""))


def new_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy's trace id), else a new one:
    32 hex digits, a random per-process prefix and a counter (unique without drawing random
    bytes per request, which cost 3 % of a single POST)."""
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if CALLER_ID.fullmatch(given):
                return given
            break
    return f"{_PROCESS_ID}{next(_REQUESTS):016x}"


def _new_process_id() -> None:
    global _PROCESS_ID
    _PROCESS_ID = uuid.uuid4().hex[:16]


_PROCESS_ID = ""
_REQUESTS = itertools.count(1)
_new_process_id()
os.register_at_fork(after_in_child=_new_process_id)  # a forked worker is another process


def error_response(exc: BaseException, scope: Scope) -> JSONAnswer:
    """The answer for an exception no route handled, by whose fault it is."""
    kind = classify(exc)
    if kind == "unavailable":
        return JSONAnswer({"detail": f"database unavailable: {type(exc).__name__}"},
                              status_code=503, headers={"Retry-After": "2"})
    if kind in ("bad_input", "conflict"):
        msg = f"a value in the request was refused by the database: {exc}"
        return JSONAnswer({"detail": [{"loc": ["request"], "msg": msg, "type": kind}]},
                              status_code=422 if kind == "bad_input" else 409)
    rid = request_id(scope)
    log.error("unhandled %s on %s %s [request %s]", type(exc).__name__, scope.get("method"),
              scope.get("path"), rid, exc_info=exc)
    return JSONAnswer({"detail": f"internal error; quote request id {rid}",
                           "request_id": rid}, status_code=500)


class RequestIds:
    """ASGI middleware: every answer carries ``X-Request-ID``; a NUL in the path or query is
    a 422 before any route; an exception nothing handled is answered by ``error_response``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, rid)
            await send(message)

        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        where = find_nul(scope.get("path", ""), query)
        if where is not None:
            refused = JSONAnswer(
                {"detail": [{"loc": where, "msg": NUL_MSG, "type": "value_error"}]}, 422)
            await refused(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            await error_response(exc, scope)(scope, receive, send_with_id)


async def database_error(request: Request, exc: Exception) -> Response:
    return error_response(exc, request.scope)


def printable(value: Any) -> Any:
    """``value`` with unpaired surrogates escaped and integers JSON encoders cannot hold (past
    64 bits) as text, so the answer echoing it can be encoded at all."""
    if isinstance(value, int) and not isinstance(value, bool) and not (
            -(2**63) <= value < 2**64):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


async def invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, which would otherwise fail to encode an input holding a surrogate."""
    if not isinstance(exc, RequestValidationError):
        raise TypeError(f"invalid_request answers RequestValidationError, not "
                        f"{type(exc).__name__}") from exc
    return JSONAnswer({"detail": printable(jsonable_encoder(exc.errors()))}, 422)


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of ``app`` serves at the request's path."""
    path = get_route_path(scope)
    found: set[str] = set()
    for route in iter_route_contexts(app.routes):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            found.update(route.methods)
    return sorted(found)


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an ``HTTPException`` (``{"detail": …}``, its headers), except that
    a 405's ``Allow`` names every method of the path: routing stops at the first route whose
    path matches, so on its own it names only that route's methods."""
    if not isinstance(exc, HTTPException):
        raise TypeError(f"registered for HTTPException, given {type(exc).__name__}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    if exc.status_code < 200 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONAnswer({"detail": printable(exc.detail)}, exc.status_code, headers=headers)


def install_error_handling(app: FastAPI) -> None:
    """Request ids, the NUL guard and answers by whose fault an error is (both services)."""
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    for family in DATABASE_ERRORS:
        app.add_exception_handler(family, database_error)
    app.add_middleware(RequestIds)

