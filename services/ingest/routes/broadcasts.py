"""POST /v1/broadcasts: a message from the centre to its observers, appended as an event.

A coordinator writes to her regions' observers only, an admin to any
(``saylau.domain.broadcasts``); the message is appended as ``broadcast.sent`` through the
intake like every event (its text sealed as free text), naming the observers it reaches as
the read models stand now, who read it in ``GET /v1/observer/me``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from saylau.domain.broadcasts import (
    Addressed,
    NotAddressable,
    address,
    canonical_regions,
    only_region,
)
from saylau.domain.vocabulary import BROADCAST_SENT
from saylau.readmodels import broadcasts as broadcast_reads
from saylau.web.contract import errors
from saylau.web.input import RequestBody, Text
from saylau.web.keys import Principal
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, rate_limited
from services.ingest.deps import IntakeDep
from services.ingest.gateway import calendars
from services.ingest.routes.events import refusal

router = APIRouter(tags=["broadcasts"])
MAX_TEXT = 1000
MAX_RECIPIENTS = 20_000
"""Observers one message may reach (``observer_ids`` in its event: about 240 kB)."""
SOURCE = "monitoring-centre"

BroadcastSender = Annotated[Principal, Depends(rate_limited("broadcast", sessions=True))]
"""Who may send: a key with the ``broadcast`` scope, or the dashboard's session of an account
or key holding it (with its CSRF token and an allowed Origin)."""
Message = Annotated[Text, Field(min_length=1, max_length=MAX_TEXT)]
Region = Annotated[Text, Field(min_length=1, max_length=100)]
StationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class Texts(RequestBody):
    """The message in one or more of the observers' languages."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"minProperties": 1})
    kk: Message | SkipJsonSchema[None] = None
    ru: Message | SkipJsonSchema[None] = None
    en: Message | SkipJsonSchema[None] = None

    @field_validator("kk", "ru", "en", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("a text, or leave the language out (not null)")
        return value

    @model_validator(mode="after")
    def _one_language(self) -> Texts:
        if not (self.kk or self.ru or self.en):
            raise ValueError("give the message in at least one language: kk, ru or en")
        return self


class Broadcast(RequestBody):
    """A message and whom it goes to: regions (any spelling an election file lists),
    stations, or neither (all of the sender's regions; the whole country for an admin)."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [{
        "text": {"ru": "Проверьте пломбы урн до 07:00.",
                 "en": "Check the ballot boxes' seals before 07:00."},
        "regions": ["North Kazakhstan"]}]})
    text: Texts
    regions: list[Region] | None = Field(default=None, max_length=50)
    station_ids: list[StationId] | None = Field(default=None, max_length=500)


@router.post("/v1/broadcasts", status_code=202, responses={
    202: {"description": "appended: the event id of its broadcast.sent", "content": {
        "application/json": {"schema": {"type": "object"}}}},
    **errors(403, 422, s403="the key lacks the broadcast scope, or a coordinator addressed "
                            "a region (`regions`) or a station (`station_ids`) outside "
                            "her regions",
             s422="no language given, a text over 1000 characters, a region no election "
                  "file lists (`regions`), a station not in the registry (`station_ids`), "
                  "or more than 20,000 observers reached (`regions`)")})
async def send_broadcast(body: Broadcast, request: Request, sender: BroadcastSender,
                         intake: IntakeDep) -> Response:
    """Send a message to the observers of regions or stations; 202 with its event id once
    the broadcast.sent is in the log."""
    wiring = request.app.state.wiring
    now = datetime.now(UTC)
    regions, unknown = canonical_regions(body.regions or [], calendars(), now)
    if unknown:
        return problem(422, [{"loc": ["body", "regions"], "msg": "no election file lists "
                                                                 "these regions: "
                                                                 + ", ".join(unknown)}])
    stations = list(dict.fromkeys(body.station_ids or []))
    registered = await broadcast_reads.station_regions(
        wiring.pool, wiring.settings.read_schema, stations)
    addressed = address(sender.reach, regions, registered, stations)
    if isinstance(addressed, NotAddressable):
        return problem(addressed.status, [{"loc": ["body", addressed.field],
                                           "msg": addressed.msg}])
    observers = await broadcast_reads.reached(wiring.pool, wiring.settings.read_schema,
                                              list(addressed.regions), list(addressed.station_ids))
    if len(observers) > MAX_RECIPIENTS:
        return problem(422, [{"loc": ["body", "regions"], "msg": (
            f"it would reach {len(observers)} observers, more than the {MAX_RECIPIENTS} one "
            "message may: address fewer regions or stations")}])
    item = broadcast_event(body, Reached(addressed, observers, registered), sender, now)
    outcome = await intake.submit_broadcast(item, sender.partner)
    return refusal(outcome) or JSONAnswer(outcome.body(), status_code=outcome.code)


@dataclass(frozen=True)
class Reached:
    """Where a broadcast goes and whom it reaches: the observers, and the regions of the
    addressed stations (``stations``: station id → its registered region)."""

    addressed: Addressed
    observer_ids: list[str]
    stations: dict[str, str | None]

    @property
    def regions(self) -> list[str]:
        """The regions it lies in (empty: the whole country)."""
        return sorted({*self.addressed.regions,
                       *(r for s in self.addressed.station_ids if (r := self.stations.get(s)))})


def broadcast_event(body: Broadcast, reached: Reached, sender: Principal, now: datetime
                    ) -> dict[str, Any]:
    """The ``broadcast.sent`` envelope, naming whom it reached: placed in its one region (so
    it is keyed, ordered and seen by that region), else placeless (several regions, or the
    whole country)."""
    addressed = reached.addressed
    payload: dict[str, Any] = {"text": body.text.model_dump(exclude_none=True),
                               "sender": sender.actor, "observer_ids": reached.observer_ids}
    if addressed.regions:
        payload["regions"] = list(addressed.regions)
    if addressed.station_ids:
        payload["station_ids"] = list(addressed.station_ids)
    if reached.regions:
        payload["regions_reached"] = reached.regions
    region = only_region(addressed, reached.stations)
    return {"event_id": str(uuid.uuid4()), "type": BROADCAST_SENT, "schema_version": 1,
            "occurred_at": now.isoformat(), "source": SOURCE,
            **({"place": {"region": region}} if region else {}), "payload": payload}
