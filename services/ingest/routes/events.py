"""POST /v1/events and /v1/events:batch: partners' reports, appended once acknowledged."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from saylau.domain.vocabulary import OPERATOR_TYPES
from saylau.intake.outcome import Outcome
from saylau.web.contract import errors
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, unavailable
from services.ingest.contract import ENVELOPE_REF, JSON_OBJECT
from services.ingest.deps import IntakeDep, ReportKey, TriageOrReportKey, json_body, signed_in

router = APIRouter()
MAX_BODY = 1024 * 1024
MAX_BATCH_BODY = 16 * MAX_BODY
MAX_BATCH = 1000
BODY_ERRORS = errors(400, 413, 415, s413="the body is over 1 MiB (16 MiB for a batch)",
                     s415="the body is declared as something other than JSON")


@router.post("/v1/events", status_code=202, responses={
    200: {"description": "this event_id was accepted before with the same content: "
                         "``duplicate``, nothing appended again", **JSON_OBJECT},
    **BODY_ERRORS, **errors(403, 409, s403="the key lacks the ingest scope, or this type "
                                           "needs the triage or admin scope (broadcast.sent "
                                           "is sent with POST /v1/broadcasts, broadcast.read "
                                           "by an observer's token, for her messages only); "
                                           "with the dashboard session: not a triage event, "
                                           "or no X-CSRF-Token, or another origin",
                            s409="this event_id was accepted before with other content")},
    openapi_extra={"requestBody": {
        "required": True, "x-max-bytes": MAX_BODY,
        "content": {"application/json": {"schema": ENVELOPE_REF}}}})
async def post_event(request: Request, principal: TriageOrReportKey,
                     intake: IntakeDep) -> Response:
    """Append one report; 202 once the broker acknowledged it, 200 for a re-sent id. The
    dashboard's session posts triage events (claim, verify, reject, escalate, comment) only."""
    item = await json_body(request, MAX_BODY)
    if signed_in(request) and not triage_event(item):
        return problem(403, [{"loc": ["body", "type"], "type": "value_error", "msg":
                              "with the dashboard session only triage events are posted: "
                              f"{', '.join(sorted(OPERATOR_TYPES))}"}])
    outcome = (await intake.submit([item], principal.partner, principal.scopes,
                                   principal.observer, principal.reach, principal.actor))[0]
    return refusal(outcome) or JSONAnswer(outcome.body(), status_code=outcome.code)


def triage_event(item: object) -> bool:
    return isinstance(item, dict) and item.get("type") in OPERATOR_TYPES


def refusal(outcome: Outcome) -> Response | None:
    """The answer to a single report that was not appended (503, 403, 409, 422), else None
    (the route and the hot path in ``services/ingest/fastpath.py`` both answer with it)."""
    if outcome.code == 503:
        return unavailable("Kafka did not acknowledge the event; it was not accepted")
    if outcome.code in (403, 409, 422):
        return problem(outcome.code, [e.as_dict() for e in outcome.errors])
    return None


@router.post("/v1/events:batch", responses=BODY_ERRORS, openapi_extra={"requestBody": {
    "required": True, "x-max-bytes": MAX_BATCH_BODY, "content": {"application/json": {"schema": {
        "type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": ENVELOPE_REF}}}}})
async def post_batch(request: Request, principal: ReportKey, intake: IntakeDep) -> Response:
    """Append up to 1,000 reports; one result per item, in order."""
    items = await json_body(request, MAX_BATCH_BODY)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        return problem(422, [{"loc": ["body"], "msg": f"a JSON array of 1 to {MAX_BATCH} events"}])
    outcomes = await intake.submit(items, principal.partner, principal.scopes,
                                   principal.observer, principal.reach, principal.actor)
    results = [{"index": i, "code": o.code, **o.body()} for i, o in enumerate(outcomes)]
    return JSONAnswer({"results": results, "accepted": sum(o.code == 202 for o in outcomes)})
