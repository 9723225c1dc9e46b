"""POST /v1/events and /v1/events:batch: partners' reports, appended once acknowledged."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from saylau.intake.outcome import Outcome
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, unavailable
from services.ingest.deps import IntakeDep, ReportKey, json_body

router = APIRouter()
MAX_BODY = 1024 * 1024
MAX_BATCH_BODY = 16 * MAX_BODY
MAX_BATCH = 1000
ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}


@router.post("/v1/events", status_code=202, openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": ENVELOPE_REF}}}})
async def post_event(request: Request, principal: ReportKey, intake: IntakeDep) -> Response:
    """Append one report; 202 once the broker acknowledged it, 200 for a re-sent id."""
    item = await json_body(request, MAX_BODY)
    outcome = (await intake.submit([item], principal.partner, principal.scopes,
                                   principal.observer))[0]
    return refusal(outcome) or JSONAnswer(outcome.body(), status_code=outcome.code)


def refusal(outcome: Outcome) -> Response | None:
    """The answer to a single report that was not appended (503, 403, 409, 422), else None
    (the route and the hot path in ``services/ingest/fastpath.py`` both answer with it)."""
    if outcome.code == 503:
        return unavailable("Kafka did not acknowledge the event; it was not accepted")
    if outcome.code in (403, 409, 422):
        return problem(outcome.code, [e.as_dict() for e in outcome.errors])
    return None


@router.post("/v1/events:batch", openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": {
        "type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": ENVELOPE_REF}}}}})
async def post_batch(request: Request, principal: ReportKey, intake: IntakeDep) -> Response:
    """Append up to 1,000 reports; one result per item, in order."""
    items = await json_body(request, MAX_BATCH_BODY)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        return problem(422, [{"loc": ["body"], "msg": f"a JSON array of 1 to {MAX_BATCH} events"}])
    outcomes = await intake.submit(items, principal.partner, principal.scopes,
                                   principal.observer)
    results = [{"index": i, "code": o.code, **o.body()} for i, o in enumerate(outcomes)]
    return JSONAnswer({"results": results, "accepted": sum(o.code == 202 for o in outcomes)})
