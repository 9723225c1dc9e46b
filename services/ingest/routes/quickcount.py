"""POST /v1/quickcount/samples: draw the quick-count sample and append it as ``sample.drawn``.

The frame is the station registry as the read models hold it; the draw is the pure
``draw_sample`` (docs/quickcount.md); the event goes through the intake service like any
other, so it is validated, deduplicated and hash-chained into the log.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field

from saylau.domain.quickcount import MAX_SEED, FrameStation, Sample, draw_sample
from saylau.domain.vocabulary import SAMPLE_DRAWN
from saylau.readmodels import quickcount as quickcount_reads
from saylau.web.input import RequestBody
from saylau.web.keys import Principal
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, rate_limited, unavailable
from services.ingest.deps import IntakeDep

router = APIRouter(tags=["quickcount"])
AdminKey = Annotated[Principal, Depends(rate_limited("admin"))]


class SampleRequest(RequestBody):
    """What to draw: the election, the number of stations and the public seed."""

    election_id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    size: int = Field(ge=1, le=100_000)
    seed: int = Field(ge=0, le=MAX_SEED, description="announced before the draw")
    replace: bool = Field(False, description="draw again although the election has a sample")


def sample_event(sample: Sample) -> dict[str, Any]:
    """The ``sample.drawn`` envelope of ``sample`` (its id is the sample id)."""
    return {"event_id": sample.sample_id, "type": SAMPLE_DRAWN, "schema_version": 1,
            "occurred_at": sample.drawn_at.isoformat(), "election_id": sample.election_id,
            "source": "quickcount-draw", "payload": sample.payload()}


@router.post("/v1/quickcount/samples", status_code=201)
async def post_sample(body: SampleRequest, request: Request, principal: AdminKey,
                      intake: IntakeDep) -> Response:
    """Draw a stratified sample of registered stations (strata = regions, allocation
    proportional to registered voters, SRS within each) and append it to the log; 409 if the
    election already has one, unless ``replace``."""
    wiring = request.app.state.wiring
    schema = wiring.settings.read_schema
    draws = f'"{wiring.settings.ingest_schema}".quickcount_draws'
    async with wiring.pool.acquire() as conn, conn.transaction():
        # one draw of an election at a time, across ingest processes, until it is recorded
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('quickcount:' || $1))",
                           body.election_id)
        held = await conn.fetchval(f"SELECT sample_id FROM {draws} WHERE election_id = $1",
                                   body.election_id) or await quickcount_reads.current_sample(
            conn, schema, body.election_id)  # or a sample drawn before ingest recorded draws
        rows = await quickcount_reads.frame(conn, schema)
        if held is not None and not body.replace:
            return problem(409, f"election {body.election_id!r} already has sample {held}; "
                                "send \"replace\": true to draw a new one (both stay in the log)")
        if not rows:
            return problem(409, "no registered station with registered voters to draw from")
        sample = draw_sample([FrameStation(*r) for r in rows], body.size, body.seed,
                             election_id=body.election_id, drawn_at=datetime.now(UTC))
        outcome = (await intake.submit([sample_event(sample)], principal.partner,
                                       principal.scopes))[0]
        if outcome.code in (200, 202):
            await conn.execute(
                f"INSERT INTO {draws} (election_id, sample_id, drawn_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (election_id) DO UPDATE SET sample_id = EXCLUDED.sample_id, "
                "drawn_at = EXCLUDED.drawn_at", body.election_id, sample.sample_id,
                sample.drawn_at)
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
