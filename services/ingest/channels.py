"""Intake channels over HTTP: SMS gateway and Telegram webhooks, partners' bulk import.

Each turns what it receives into envelopes (``saylau.channels``) and appends them through
``Intake.submit``, the same validation, dedup and chain as POST /v1/events. The gateway's
configuration travels in the webhook URL: ``?election=kz-2021-01-10&region=…&source=…``.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import ORJSONResponse, Response

from saylau.auth import Principal
from saylau.catalogue import catalogue
from saylau.channels import Context, Inbound, Made, message_event
from saylau.channels.bulk import Line, parse_csv, parse_ndjson, partner_namespace
from saylau.channels.sms import parse_sms
from saylau.channels.telegram import UpdateError, parse_update, read_update, reply
from saylau.db import UNAVAILABLE
from saylau.domain.calendar import Calendars
from saylau.web import BodyTooLarge, problem, rate_limited, read_body
from services.ingest.intake import Outcome
from services.ingest.validation import validate_item

router = APIRouter(prefix="/v1/channels", tags=["channels"])
IngestKey = Annotated[Principal, Depends(rate_limited("ingest"))]
MAX_MESSAGE_BODY = 64 * 1024
MAX_IMPORT_BODY = 16 * 1024 * 1024
MAX_IMPORT_LINES = 1000
SENDER_FIELDS = ("from", "From", "sender", "msisdn")
TEXT_FIELDS = ("text", "Text", "Body", "body", "message")
ID_FIELDS = ("message_id", "MessageSid", "messageId", "id")
TIME_FIELDS = ("timestamp", "sent_at", "received_at")


@lru_cache(maxsize=1)
def calendars() -> Calendars:
    return Calendars.load()


def gateway_context(request: Request, channel: str, now: datetime) -> Context:
    """The gateway's settings from its webhook URL; the election defaults to the current one."""
    query = request.query_params
    election_id = query.get("election")
    election = (calendars().get(election_id) if election_id
                else calendars().for_event(None, now))
    if election_id and election is None:
        raise HTTPException(422, f"unknown election {election_id!r}; known: "
                                 f"{', '.join(sorted(calendars().elections))}")
    return Context(election=election, source=query.get("source", channel)[:100],
                   region=query.get("region"))


async def bounded_body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from None


def fields_of(body: bytes, content_type: str) -> dict[str, Any]:
    """A gateway's form post or JSON object, as one flat mapping."""
    if "json" in content_type:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPException(422, "the JSON body must be an object")
        return data
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def first(data: dict[str, Any], names: tuple[str, ...]) -> str:
    value = next((data[n] for n in names if data.get(n) not in (None, "")), None)
    if value is None:
        raise HTTPException(422, f"missing field {names[0]!r} (or {', '.join(names[1:])})")
    return str(value)


def sent_at(data: dict[str, Any], now: datetime) -> datetime:
    """The gateway's timestamp (ISO 8601 with offset, or Unix seconds), else now."""
    value = next((data[n] for n in TIME_FIELDS if data.get(n)), None)
    if value is None:
        return now
    try:
        if isinstance(value, int | float) or str(value).isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError):
        raise HTTPException(422, f"timestamp {value!r} is neither ISO 8601 nor Unix") from None
    if moment.tzinfo is None:
        raise HTTPException(422, "timestamp needs a UTC offset")
    return moment


async def record(request: Request, inbound: Inbound, made: Made,
                 context: Context) -> tuple[str, str]:
    """Append the message's reports and the raw message itself: ``(status, reply)``.

    Ids derive from the gateway's message id, so an id seen before (or a 409 for it) means
    this message was recorded already: the gateway retried.
    """
    if not made.events:
        return ("rejected" if made.error else "help"), made.reply
    items = [*made.events, message_event(inbound, made.events, context.source)]
    now = datetime.now(UTC)
    errors = [e for item in items if isinstance(e := validate_item(item, catalogue(), now), list)]
    if errors:
        return "rejected", f"Not recorded: {errors[0][0].msg}"
    known = await already_accepted(request, [item["event_id"] for item in items])
    fresh = [item for item in items if item["event_id"] not in known]
    if not fresh:
        return "duplicate", f"Already recorded. {made.reply}"
    outcomes = await append(request, fresh, inbound.gateway)
    if any(o.code == 503 for o in outcomes):
        raise HTTPException(503, "not recorded: the log is unavailable; retry",
                            headers={"Retry-After": "2"})
    if all(o.code in (200, 409) for o in outcomes):
        return "duplicate", f"Already recorded. {made.reply}"
    return "accepted", made.reply


async def already_accepted(request: Request, event_ids: list[str]) -> set[str]:
    """Ids appended before: a gateway's retry is answered without appending again."""
    try:
        rows = await request.app.state.pool.fetch(
            "SELECT event_id::text AS id FROM accepted_events WHERE event_id = ANY($1::uuid[])",
            event_ids)
    except UNAVAILABLE:
        raise HTTPException(503, "database unavailable; nothing was appended",
                            headers={"Retry-After": "2"}) from None
    return {r["id"] for r in rows}


async def append(request: Request, items: list[Any], partner: str) -> list[Outcome]:
    from services.ingest.app import submit  # the shared append helper; app imports us

    outcomes = await submit(request, items, partner)
    if isinstance(outcomes, Response):
        raise HTTPException(503, "database unavailable; nothing was appended",
                            headers={"Retry-After": "2"})
    return outcomes


@router.post("/sms")
async def post_sms(request: Request, principal: IngestKey) -> Response:
    """An SMS from a gateway (form or JSON: from, text, message_id); the reply to send back."""
    now = datetime.now(UTC)
    data = fields_of(await bounded_body(request, MAX_MESSAGE_BODY),
                     request.headers.get("content-type", ""))
    inbound = Inbound("sms", principal.partner, first(data, ID_FIELDS)[:200],
                      first(data, SENDER_FIELDS), first(data, TEXT_FIELDS), sent_at(data, now))
    context = gateway_context(request, "sms", now)
    status, answer = await record(request, inbound, parse_sms(inbound, context), context)
    return ORJSONResponse({"reply": answer, "status": status})


@router.post("/telegram")
async def post_telegram(request: Request, principal: IngestKey) -> Response:
    """A Telegram bot update; the answer is a sendMessage call replying in the same chat."""
    body = await bounded_body(request, MAX_MESSAGE_BODY)
    try:
        update = read_update(orjson.loads(body), principal.partner)
    except (orjson.JSONDecodeError, UpdateError) as exc:
        return problem(422, f"not a Telegram update: {exc}")
    context = gateway_context(request, "telegram", datetime.now(UTC))
    if update.inbound is None:
        return ORJSONResponse(reply(update, parse_update(update, context).reply))
    _, answer = await record(request, update.inbound, parse_update(update, context), context)
    return ORJSONResponse(reply(update, answer))


@router.post("/import")
async def post_import(request: Request, principal: IngestKey) -> Response:
    """Up to 1,000 envelopes as NDJSON (application/x-ndjson) or CSV (text/csv), per line."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-ndjson", "application/jsonl", "text/csv"):
        return problem(415, "send application/x-ndjson (one envelope per line) or text/csv")
    text = (await bounded_body(request, MAX_IMPORT_BODY)).decode("utf-8-sig", "replace")
    parse = parse_csv if content_type == "text/csv" else parse_ndjson
    lines = parse(text, partner_namespace(principal.partner))
    if len(lines) > MAX_IMPORT_LINES:
        return problem(413, f"{len(lines)} lines; at most {MAX_IMPORT_LINES} per import")
    items = [line.item for line in lines if line.item is not None]
    outcomes = iter(await append(request, items, principal.partner) if items else [])
    results = [line_result(line, outcomes) for line in lines]
    return ORJSONResponse({"results": results, "lines": len(results), **{
        status: sum(r["status"] == status for r in results)
        for status in ("accepted", "duplicate", "rejected")}})


def line_result(line: Line, outcomes: Iterator[Outcome]) -> dict[str, Any]:
    """One line's answer: its parse error, else the next outcome of the append."""
    if line.item is None:
        return {"line": line.number, "code": 422, "event_id": None, "status": "rejected",
                "errors": [{"loc": ["line"], "msg": line.error}]}
    outcome = next(outcomes)
    return {"line": line.number, "code": outcome.code, **outcome.body()}

