"""Dependencies of the api's routers, as ``Annotated`` aliases: the pool, the caller's key
by scope, the live-feed broadcaster, the settings and the (lazily started) producer."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response

from saylau.bootstrap import start_producer
from saylau.domain.calendar import Calendars
from saylau.domain.roles import Reach
from saylau.privacy.records import Names
from saylau.settings import Settings
from saylau.store import paging
from saylau.web.contract import DECLARED, answers
from saylau.web.keys import KeyRing, Principal
from saylau.web.service import keyring, require
from services.api.live import Broadcaster

ReaderDep = Annotated[Principal, Depends(require("read", allow_public=True))]
"""A ``read`` key (or nobody, when PUBLIC_READ is on)."""
SubscriberDep = Annotated[Principal, Depends(require("read"))]
"""A ``read`` key, always named: webhooks belong to a partner."""



def national(scope: str, allow_public: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency: a key or account holding ``scope`` whose reach is the whole country.
    One bound to regions is refused with 403 naming why: the quick count's estimates are
    national statistics, and the log's administration and audit are not a region's."""
    holder = require(scope, allow_public=allow_public)

    async def check(request: Request, ring: Annotated[KeyRing, Depends(keyring)]) -> Principal:
        who = await holder(request, ring)
        if not who.reach.national:
            raise HTTPException(403, f"national-only: this route answers for the whole "
                                     f"country, and {who.actor!r} is bound to "
                                     f"{', '.join(who.reach.filter() or ())}")
        return who

    answers(check, {**DECLARED[holder].statuses, 403: (
        f"the key lacks the {scope!r} scope, or it (or the account) is bound to regions: "
        "this route is national-only")}, schemes=DECLARED[holder].schemes,
        public=DECLARED[holder].public)
    return check


AdminDep = Annotated[Principal, Depends(national("admin"))]
"""An ``admin`` key of national reach."""
AuditorDep = Annotated[Principal, Depends(national("audit"))]
"""An ``audit`` key of national reach."""
NationalReaderDep = Annotated[Principal, Depends(national("read", allow_public=True))]
"""A ``read`` key or account of national reach (or nobody, when PUBLIC_READ is on)."""


@lru_cache(maxsize=1)
def calendars() -> Calendars:
    """The election files (their regions and aliases, their calendars), read once."""
    return Calendars.load()


def region_asked(name: str) -> str:
    """A region named by a reader, canonical through the election files' aliases."""
    return calendars().region_asked(name, datetime.now(UTC))


def reach(who: ReaderDep) -> Reach:
    """The regions the caller may read (``Reach.filter()``: None for the whole country)."""
    return who.reach


ReachDep = Annotated[Reach, Depends(reach)]


def pool(request: Request) -> asyncpg.Pool:
    """The pool whose connections see the read-model schema first."""
    return request.app.state.wiring.pool  # type: ignore[no-any-return]


def settings(request: Request) -> Settings:
    return request.app.state.wiring.settings  # type: ignore[no-any-return]


def broadcaster(request: Request) -> Broadcaster:
    return request.app.state.broadcaster  # type: ignore[no-any-return]


async def producer(request: Request) -> AIOKafkaProducer:
    """Kafka is needed only to replay dead letters: connect on first use."""
    wiring = request.app.state.wiring
    async with request.app.state.producer_lock:
        if wiring.producer is None:
            try:
                wiring.producer = await start_producer(wiring.settings)
            except KafkaError as exc:
                raise HTTPException(503, f"Kafka unavailable: {exc}",
                                    headers={"Retry-After": "5"}) from None
    return wiring.producer  # type: ignore[no-any-return]


answers(pool, {503: "PostgreSQL is unavailable; retry after Retry-After seconds"})
answers(producer, {503: "Kafka is unavailable; retry after Retry-After seconds"})
PoolDep = Annotated[asyncpg.Pool, Depends(pool)]
SettingsDep = Annotated[Settings, Depends(settings)]
BroadcasterDep = Annotated[Broadcaster, Depends(broadcaster)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(producer)]


def may_see_names(principal: Principal) -> bool:
    """Names of detained people and observers, and free text (descriptions, reasons, notes,
    messages, captions), where names end up (``Principal.sees_names``)."""
    return principal.sees_names


def names(request: Request, who: ReaderDep) -> Names:
    """How the caller sees names and free text: opened for ``audit`` / ``admin`` keys, else
    ``"[redacted]"`` / ``"[text withheld]"``."""
    return Names(request.app.state.wiring.keys, may_see_names(who))


NamesDep = Annotated[Names, Depends(names)]


CURSOR = "^[A-Za-z0-9_-]{1,1000}$"
"""What a cursor looks like (``saylau.store.paging``: unpadded base64url)."""
CursorQuery = Annotated[str | None, Query(max_length=1000, pattern=CURSOR, description=(
    "where the page starts: the `next` of the previous page, exactly as this list issued "
    "it (opaque; a cursor of another list, or altered, is refused with 422 naming "
    "`cursor`); absent for the first page"))]
"""``?cursor=``: where a keyset page starts (see ``saylau.store.paging``)."""


def after(name: str, cursor: str | None, spec: paging.Spec) -> tuple[Any, ...] | None:
    """The key a list's ``?cursor=`` names, or 422 naming ``cursor``."""
    if cursor is None:
        return None
    try:
        return paging.decode(name, cursor, spec)
    except paging.BadCursor as exc:
        raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": str(exc),
                                   "type": "value_error"}]) from None


class ReadAnswer(Response):
    """A read's JSON, serialised by orjson directly: a page of records is not walked again by
    FastAPI's encoder (the larger half of a list read's time). asyncpg's UUIDs as text."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


def answer(payload: dict[str, Any]) -> ReadAnswer:
    return ReadAnswer(payload)
