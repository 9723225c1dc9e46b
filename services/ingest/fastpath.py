"""The election-night hot path: ``POST /v1/events`` answered in plain ASGI, in front of the
FastAPI app (its middleware, routing and dependencies).

When polls close, partners post one report per request by the thousand. The FastAPI route
(``routes/events.py``) spends most of a request's CPU in routing, dependency solving and
response classes, not in the work (validation, group commit, broker acknowledgement). This
app answers the ordinary request, a known ``ingest`` key within its rate limit and a
JSON body with a Content-Length under the limit, by calling the same functions the route
calls, in the same order, with the same answers and an ``X-Request-ID`` like every
answer (a browser's request, carrying ``Origin``, is left to the CORS middleware). It
decides what is ordinary with the route's own checks (``key_principal``, ``take_token``,
``not_json``, ``declared_within``): a rule added there holds on both paths. Anything else
(no or unknown key, spent rate limit, a chunked or oversized body, a form, malformed JSON)
goes on to the FastAPI route untouched, which answers it as documented; a body already
read is handed on as it was received. The route stays the documented endpoint in the
OpenAPI document.
"""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, HTTPException
from starlette.types import Message, Receive, Scope, Send

from saylau.intake.outcome import Unavailable
from saylau.web.errors import error_response, new_request_id
from saylau.web.keys import Principal
from saylau.web.service import (
    BodyTooLarge,
    declared_within,
    key_principal,
    take_token,
    unavailable,
)
from services.ingest.deps import not_json
from services.ingest.routes.events import MAX_BODY, refusal

PATH = "/v1/events"
SCOPE = "ingest"
JSON_HEADERS = [(b"content-type", b"application/json")]


class IngestApp(FastAPI):
    """The ingest FastAPI app, with the hot path in front of its middleware stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST"
                or scope.get("query_string") or getattr(self.state, "wiring", None) is None):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        rid = new_request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", rid.encode())]
            await send(message)

        try:
            route_receive = await self.hot(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            await error_response(exc, scope)(scope, receive, send_with_id)
            return
        if route_receive is not None:
            del scope["state"]["request_id"]  # the stack's own middleware draws it
            await super().__call__(scope, route_receive, send)

    async def hot(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Answer the ordinary request (None), or hand back what the route must be given to
        read the request (``receive`` itself when nothing was read yet)."""
        state, wiring = self.state, self.state.wiring
        principal = await self.ordinary(scope, state)
        if principal is None:
            return receive
        body, more = await read_declared(scope, receive)
        try:
            item = orjson.loads(body) if not more else None
        except orjson.JSONDecodeError:
            item = None
        if item is None:  # malformed (or the JSON ``null``): the route words the answer
            return replay(body, more, receive)
        try:
            outcome = (await wiring.intake.submit([item], principal.partner, principal.scopes,
                                                  reach=principal.reach,
                                                  actor=principal.actor))[0]
        except Unavailable as exc:
            await unavailable(str(exc))(scope, receive, send)
            return None
        refused = refusal(outcome)
        if refused is not None:
            await refused(scope, receive, send)
        else:
            await answer(send, outcome.code, orjson.dumps(outcome.body()))
        return None

    @staticmethod
    async def ordinary(scope: Scope, state: Any) -> Principal | None:
        """The caller when the request is the ordinary case, else None (the route
        answers): a Bearer key with the ingest scope, a token of its rate limit, a JSON (or
        undeclared) body of declared length within the limit. The token is taken last, so a
        request handed on has taken none."""
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1")
        if b"origin" in headers or not length.isdigit():
            return None  # CORS, or a body the route reads as it streams
        if not_json(headers.get(b"content-type", b"").decode("latin-1")) is not None:
            return None
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        try:
            declared_within(length, MAX_BODY)
            principal = await key_principal(state.keyring, scheme, key, SCOPE)
            take_token(state.limiter, principal.partner)
        except (BodyTooLarge, HTTPException):
            return None  # the route answers it, with the same checks
        return principal


async def read_declared(scope: Scope, receive: Receive) -> tuple[bytes, bool]:
    """The body (its length was declared and is within the limit), and whether the client
    said there is more (never, from a conforming server)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnected
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the body already read, then the rest."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more}

    return again


async def answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        *JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
