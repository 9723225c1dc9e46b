"""POST /v1/quickcount/samples: draw the quick-count sample and append it as ``sample.drawn``.

The frame is the station registry as the read models hold it; the draw is the pure
``draw_sample`` (docs/quickcount.md); the event goes through the intake service like any
other, so it is validated, deduplicated and hash-chained into the log, and refused (409) if
it would replace the election's sample without naming it (``saylau.intake.samples``, the
same rule as for a ``sample.drawn`` posted to ``/v1/events``): ``replace`` names it.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field

from saylau.domain.quickcount import MAX_SEED, FrameStation, Sample, draw_sample
from saylau.domain.vocabulary import SAMPLE_DRAWN
from saylau.intake.samples import current_samples
from saylau.readmodels import quickcount as quickcount_reads
from saylau.web.contract import errors
from saylau.web.input import RequestBody, Whole
from saylau.web.keys import Principal
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, rate_limited, unavailable
from services.ingest.deps import IntakeDep

router = APIRouter(tags=["quickcount"])
AdminKey = Annotated[Principal, Depends(rate_limited("admin"))]


class SampleRequest(RequestBody):
    """What to draw: the election, the number of stations and the public seed."""

    election_id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    size: Whole = Field(ge=1, le=100_000)
    seed: Whole = Field(ge=0, le=MAX_SEED, description="announced before the draw")
    replace: bool = Field(False, description="draw again although the election has a sample "
                                             "(the new one names it in payload.replaces)")


def sample_event(sample: Sample, replaces: str | None = None) -> dict[str, Any]:
    """The ``sample.drawn`` envelope of ``sample`` (its id is the sample id), naming the
    sample it ``replaces``, if any."""
    payload = {**sample.payload(), **({"replaces": replaces} if replaces else {})}
    return {"event_id": sample.sample_id, "type": SAMPLE_DRAWN, "schema_version": 1,
            "occurred_at": sample.drawn_at.isoformat(), "election_id": sample.election_id,
            "source": "quickcount-draw", "payload": payload}


@router.post("/v1/quickcount/samples", status_code=201, responses=errors(
    403, 409, s403="the key lacks the 'admin' scope, or it is bound to regions: the sample "
                   "is national (its strata are every region)",
    s409="the election already has a sample (send replace), or no registered station "
         "has registered voters"))
async def post_sample(body: SampleRequest, request: Request, principal: AdminKey,
                      intake: IntakeDep) -> Response:
    """Draw a stratified sample of registered stations (strata = regions, allocation
    proportional to registered voters, SRS within each) and append it to the log; 409 if the
    election already has one, unless ``replace`` (the new sample then names the one it
    replaces in ``payload.replaces``). National keys only."""
    if not principal.reach.national:
        return problem(403, "national-only: the quick-count sample is drawn over every region, "
                            f"and {principal.actor!r} is bound to "
                            f"{', '.join(principal.reach.filter() or ())}")
    wiring = request.app.state.wiring
    schema = wiring.settings.read_schema
    async with wiring.pool.acquire() as conn:
        held = (await current_samples(conn, [body.election_id], schema)).get(body.election_id)
        rows = await quickcount_reads.frame(conn, schema)
    if held is not None and not body.replace:
        return problem(409, f"election {body.election_id!r} already has sample {held}; "
                            "send \"replace\": true to draw a new one (both stay in the log)")
    if not rows:
        return problem(409, "no registered station with registered voters to draw from")
    sample = draw_sample([FrameStation(*r) for r in rows], body.size, body.seed,
                         election_id=body.election_id, drawn_at=datetime.now(UTC))
    outcome = (await intake.submit([sample_event(sample, held)], principal.partner,
                                   principal.scopes))[0]  # 409 if another draw came between
    if outcome.code == 503:
        return unavailable("Kafka did not acknowledge the sample; it was not drawn")
    if outcome.code not in (200, 202):
        return problem(outcome.code, [e.as_dict() for e in outcome.errors] or outcome.status)
    return JSONAnswer({
        "sample_id": sample.sample_id, "stations": list(sample.station_ids),
        "strata": [{"region": s.region, "frame": s.frame, "sampled": s.sampled}
                   for s in sample.strata],
        "seed": sample.seed, "frame_hash": sample.frame_hash,
        "drawn_at": sample.drawn_at.isoformat(), "event_id": outcome.event_id,
        "partition": outcome.partition, "offset": outcome.offset}, status_code=201)
