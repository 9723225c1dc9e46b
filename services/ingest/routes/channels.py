"""Intake channels over HTTP: SMS gateway and Telegram webhooks, partners' bulk import.

Each turns what it receives into envelopes (``saylau.channels``) and hands them to the
intake service once (validation, dedup and chain as for POST /v1/events). The gateway's
configuration travels in the webhook URL: ``?election=kz-2021-01-10&region=…&source=…``.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from saylau.channels import Context, Inbound, Made, message_event
from saylau.channels.bulk import Line, parse_csv, parse_ndjson, partner_namespace
from saylau.channels.sms import parse_sms
from saylau.channels.telegram import UpdateError, parse_update, read_update, reply
from saylau.intake.outcome import Outcome
from saylau.intake.service import Intake
from saylau.web.contract import errors
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem
from services.ingest.contract import IMPORT_BODY, SMS_BODY, TELEGRAM_BODY, gateway_parameters
from services.ingest.deps import IngestKey, IntakeDep, bounded_body
from services.ingest.gateway import (
    ID_FIELDS,
    SENDER_FIELDS,
    TEXT_FIELDS,
    fields_of,
    first,
    gateway_context,
    sent_at,
)

router = APIRouter(prefix="/v1/channels", tags=["channels"])
MAX_MESSAGE_BODY = 64 * 1024
MAX_IMPORT_BODY = 16 * 1024 * 1024
MAX_IMPORT_LINES = 1000


async def record(intake: Intake, inbound: Inbound, made: Made,
                 context: Context) -> tuple[str, str]:
    """Append the message's reports and the raw message itself: ``(status, reply)``."""
    if not made.events:
        return ("rejected" if made.error else "help"), made.reply
    items = [*made.events, message_event(inbound, made.events, context.source)]
    done = await intake.submit_message(items, inbound.gateway)
    if done.status == "rejected":
        return "rejected", f"Not recorded: {done.error}"
    if done.status == "duplicate":
        return "duplicate", f"Already recorded. {made.reply}"
    return "accepted", made.reply


@router.post("/sms", responses=errors(400, 413, s400="the JSON body is not valid JSON"),
             openapi_extra={"requestBody": {**SMS_BODY, "x-max-bytes": MAX_MESSAGE_BODY},
                            "parameters": gateway_parameters()})
async def post_sms(request: Request, principal: IngestKey, intake: IntakeDep) -> Response:
    """An SMS from a gateway (form or JSON: from, text, message_id); the reply to send back."""
    now = datetime.now(UTC)
    data = fields_of(await bounded_body(request, MAX_MESSAGE_BODY),
                     request.headers.get("content-type", ""))
    inbound = Inbound("sms", principal.partner, first(data, ID_FIELDS)[:200],
                      first(data, SENDER_FIELDS), first(data, TEXT_FIELDS), sent_at(data, now))
    context = gateway_context(request.query_params, "sms", now)
    status, answer = await record(intake, inbound, parse_sms(inbound, context), context)
    return JSONAnswer({"reply": answer, "status": status})


@router.post("/telegram", responses=errors(413), openapi_extra={
    "requestBody": {**TELEGRAM_BODY, "x-max-bytes": MAX_MESSAGE_BODY},
    "parameters": gateway_parameters()})
async def post_telegram(request: Request, principal: IngestKey, intake: IntakeDep) -> Response:
    """A Telegram bot update; the answer is a sendMessage call replying in the same chat."""
    body = await bounded_body(request, MAX_MESSAGE_BODY)
    try:
        update = read_update(orjson.loads(body), principal.partner)
    except (orjson.JSONDecodeError, UpdateError) as exc:
        return problem(422, f"not a Telegram update: {exc}")
    context = gateway_context(request.query_params, "telegram", datetime.now(UTC))
    if update.inbound is None:
        return JSONAnswer(reply(update, parse_update(update, context).reply))
    _, answer = await record(intake, update.inbound, parse_update(update, context), context)
    return JSONAnswer(reply(update, answer))


@router.post("/import", responses=errors(413, 415, s413="over 16 MiB or 1,000 lines"),
             openapi_extra={"requestBody": {**IMPORT_BODY, "x-max-bytes": MAX_IMPORT_BODY}})
async def post_import(request: Request, principal: IngestKey, intake: IntakeDep) -> Response:
    """Up to 1,000 envelopes as NDJSON (application/x-ndjson) or CSV (text/csv), per line."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-ndjson", "application/jsonl", "text/csv"):
        return problem(415, "send application/x-ndjson (one envelope per line) or text/csv")
    text = (await bounded_body(request, MAX_IMPORT_BODY)).decode("utf-8-sig", "replace")
    parse = parse_csv if content_type == "text/csv" else parse_ndjson
    lines = parse(text, partner_namespace(principal.partner, intake.keys.index_key))
    if len(lines) > MAX_IMPORT_LINES:
        return problem(413, f"{len(lines)} lines; at most {MAX_IMPORT_LINES} per import")
    items = [line.item for line in lines if line.item is not None]
    outcomes = iter(await intake.submit(items, principal.partner) if items else [])
    results = [line_result(line, outcomes) for line in lines]
    return JSONAnswer({"results": results, "lines": len(results), **{
        status: sum(r["status"] == status for r in results)
        for status in ("accepted", "duplicate", "rejected")}})


def line_result(line: Line, outcomes: Iterator[Outcome]) -> dict[str, Any]:
    """One line's answer: its parse error, else the next outcome of the append."""
    if line.item is None:
        return {"line": line.number, "code": 422, "event_id": None, "status": "rejected",
                "errors": [{"loc": ["line"], "msg": line.error}]}
    outcome = next(outcomes)
    return {"line": line.number, "code": outcome.code, **outcome.body()}
