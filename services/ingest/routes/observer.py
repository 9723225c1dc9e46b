"""Observers in the field: sign in with a PIN, then fetch what the phone needs.

``POST /v1/observer/session`` checks the PIN (``saylau.web.observers``: lock-out, per-address
limit) and her accreditation (the observers read model), and issues a token. ``GET
/v1/observer/me`` answers her election, stations and forms. What her token may post is the
intake's to decide (``saylau.domain.observers``), on every route alike.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from saylau.domain.calendar import Election
from saylau.domain.observers import ObserverGrant
from saylau.privacy.records import Names
from saylau.readmodels import broadcasts as broadcast_reads
from saylau.readmodels import observers as observer_reads
from saylau.web.forms import shipped_forms, version_of
from saylau.web.input import RequestBody
from saylau.web.keys import Principal
from saylau.web.responses import JSONAnswer
from saylau.web.service import rate_limited
from services.ingest.gateway import calendars

router = APIRouter(tags=["observers"])
ObserverKey = Annotated[Principal, Depends(rate_limited("observer"))]
OBSERVER_ID = r"^[A-Za-z0-9._:-]{1,64}$"


class SignIn(RequestBody):
    """Her observer id (as on her accreditation) and the PIN the centre issued her."""

    observer_id: str = Field(pattern=OBSERVER_ID, examples=["ED-0412"])
    pin: str = Field(pattern=r"^[0-9]{6,12}$", examples=["04121977"])


class Session(BaseModel):
    """A signed-in observer's token (send it as ``Authorization: Bearer <token>``)."""

    token: str = Field(examples=["ob_3q2-7wEXAMPLE"])
    observer_id: str
    expires_at: str = Field(description="RFC 3339; at least 36 hours after signing in")


class Me(BaseModel):
    """What the phone needs: her election, her stations, the forms she may fill."""

    observer_id: str
    election: dict[str, Any] = Field(description=(
        "election_id, name, voting_day, stations_open, stations_close (HH:MM local time), "
        "timezone (IANA, of her station's region); only election_id when no calendar"))
    stations: list[dict[str, Any]] = Field(description=(
        "station_id, number, address, region, city, lat, lon (null where not registered)"))
    forms: dict[str, Any] = Field(description=(
        "checklists (checklist_id, version, phase, label, help, questions) and "
        "incident_types (type, schema_version, scope, label, help, fields: the payload's "
        "JSON Schema); every label and help as {kk, ru, en}"))
    version: str = Field(description="changes when her stations, forms or messages change "
                                     "(a message arrives, or she has read one); also the ETag")
    messages: list[dict[str, Any]] = Field(description=(
        "the messages from the centre that reached her, newest first (at most 100): id, "
        "sent_at, text ({kk?, ru?, en?}: every language the centre wrote it in), read (she "
        "posted broadcast.read for it)"))


def problem_of(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": WHY[code], "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {}}}}}} for code in codes}


WHY = {
    401: "no or unknown token; or, signing in, a wrong observer id or PIN; or her "
         "accreditation is revoked (detail: 'accreditation revoked: <reason>')",
    403: "signing in: her accreditation names no election, or none is on record; reading: "
         "not an observer token",
    429: "five wrong PINs in a row locked her out for 15 minutes (the fifth answers 429), or "
         "this address made too many attempts; Retry-After says when to try again",
    503: "the database is unavailable; retry",
}


@router.post("/v1/observer/session", status_code=201, responses={
    201: {"model": Session, "description": "signed in"}, **problem_of(401, 403, 429, 503)})
async def sign_in(body: SignIn, request: Request) -> Response:
    """Sign an observer in with her id and PIN: a Bearer token for ``OBSERVER_TOKEN_HOURS``
    (36) that posts her reports and reads ``GET /v1/observer/me``."""
    state, wiring = request.app.state, request.app.state.wiring
    state.signin_limiter.refuse(request.client.host if request.client else "")
    await state.observer_signin.check_pin(body.observer_id, body.pin)
    accredited(body.observer_id, await observer_reads.grant(
        wiring.pool, wiring.settings.read_schema, body.observer_id, wiring.keys))
    token, expires_at = await state.observer_signin.issue_token(body.observer_id)
    return JSONAnswer({"token": token, "observer_id": body.observer_id,
                       "expires_at": expires_at.isoformat()}, status_code=201)


def accredited(observer_id: str, grant: ObserverGrant | None) -> None:
    """Sign her in only while accredited, for an election."""
    if grant is None:
        raise HTTPException(403, f"observer {observer_id} has no accreditation on record "
                                 "(observer.accredited); ask the monitoring centre")
    if grant.revoked is not None:
        raise HTTPException(401, f"accreditation revoked: {grant.revoked}")
    if grant.election_id is None:
        raise HTTPException(403, f"the accreditation of observer {observer_id} names no "
                                 "election (its observer.accredited has no election_id): it "
                                 "cannot sign in; ask the centre to accredit her again with "
                                 "the election")


@router.get("/v1/observer/me", responses={
    200: {"model": Me, "description": "her election, stations and forms"},
    **problem_of(401, 403, 429, 503)})
async def me(request: Request, principal: ObserverKey) -> Response:
    """The signed-in observer's election, stations, forms (labels in kk, ru, en) and
    messages, with a ``version`` that changes when any of them does."""
    grant = principal.observer
    if grant is None:
        raise HTTPException(403, "GET /v1/observer/me answers an observer's token "
                                 "(POST /v1/observer/session), not an API key")
    wiring = request.app.state.wiring
    stations = await observer_reads.stations(wiring.pool, wiring.settings.read_schema,
                                             grant.station_ids)
    forms = shipped_forms()
    messages = await broadcast_reads.messages_for(
        wiring.pool, wiring.settings.read_schema, grant.observer_id,
        Names(wiring.keys, readable=True))  # her own messages: she reads them in full
    version = version_of(stations, forms, messages)
    return JSONAnswer({
        "observer_id": grant.observer_id, "election": election_of(grant, stations),
        "stations": stations, "forms": forms, "version": version, "messages": messages},
        headers={"Cache-Control": "no-store", "ETag": f'"{version}"'})


def election_of(grant: ObserverGrant, stations: list[dict[str, Any]]) -> dict[str, Any]:
    """Her election's calendar: voting hours in local time of her (first) station's region."""
    election: Election | None = calendars().get(grant.election_id or "")
    if election is None:
        return {"election_id": grant.election_id}
    region = next((s["region"] for s in stations if s["region"]), None)
    return {"election_id": election.id, "name": election.name,
            "voting_day": election.voting_day.isoformat(),
            "stations_open": election.stations_open.strftime("%H:%M"),
            "stations_close": election.stations_close.strftime("%H:%M"),
            "timezone": election.zone(region).key}
