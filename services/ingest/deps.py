"""Dependencies of ingest's routes: the partner's rate-limited key and the intake service."""
from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, HTTPException, Request

from saylau.intake.service import REJECTED, Intake
from saylau.web.contract import answers
from saylau.web.keys import Principal
from saylau.web.service import BodyTooLarge, rate_limited, read_body

IngestKey = Annotated[Principal, Depends(rate_limited("ingest"))]
ReportKey = Annotated[Principal, Depends(rate_limited("ingest", observers=True))]
"""An ``ingest`` key, or an observer's token: the intake narrows what she may post."""
TriageOrReportKey = Annotated[Principal, Depends(rate_limited("ingest", observers=True,
                                                              sessions="triage"))]
"""``ReportKey``, or the dashboard's session of an account or key holding ``triage`` (with its
CSRF token): the route takes triage events only from a session (``signed_in``)."""


def signed_in(request: Request) -> bool:
    """Whether the caller came with the dashboard's session cookie, not a key."""
    return bool(getattr(request.state, "signed_in", False))


async def intake(request: Request) -> Intake:
    """The intake service ``bootstrap`` built for this process (async: a plain ``def``
    dependency would cost a thread-pool hop per request)."""
    return request.app.state.wiring.intake  # type: ignore[no-any-return]


answers(intake, {503: "Kafka did not acknowledge, or PostgreSQL is unavailable: nothing "
                     "was accepted; retry after Retry-After seconds"})
IntakeDep = Annotated[Intake, Depends(intake)]


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it passes ``limit`` bytes."""
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from None


def json_media_type(request: Request) -> None:
    """415 unless the body is declared JSON or not declared at all (``not_json``)."""
    declared = not_json(request.headers.get("content-type", ""))
    if declared is not None:
        REJECTED.labels("media_type").inc()
        raise HTTPException(415, f"the body must be JSON, sent as Content-Type: "
                                 f"application/json (not {declared[:100]!r})")


def not_json(content_type: str) -> str | None:
    """The declared media type when it is not JSON (``application/json``,
    ``application/*+json``), else None (JSON, or not declared): a form or ``text/plain`` is
    not what the OpenAPI document accepts."""
    declared = content_type.partition(";")[0].strip().lower()
    if declared and declared != "application/json" and not (
            declared.startswith("application/") and declared.endswith("+json")):
        return declared
    return None


async def json_body(request: Request, limit: int) -> Any:
    """The JSON body: 415 when declared as something else, 413 past ``limit``, 400 when not
    valid JSON."""
    json_media_type(request)
    return json_of(await bounded_body(request, limit))


def json_of(body: bytes) -> Any:
    """The body as JSON, or 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        REJECTED.labels("malformed_json").inc()
        raise HTTPException(400, f"body is not valid JSON (UTF-8): {exc}") from None
