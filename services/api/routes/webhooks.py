"""Webhook subscriptions: partners choose kinds of change to receive as signed POSTs.

A subscription made by a key or account bound to regions keeps those regions (``reach``)
and receives only their changes; changes with no region at all are national.

The worker (``python -m services.webhooks.app``) does the delivering; these routes manage
subscriptions and show each partner its own delivery log. A key sees only its partner's
subscriptions; another partner's id answers 404, as if it did not exist.
"""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import AnyHttpUrl, ConfigDict, Field

from saylau.outbound import delivery as outbound
from saylau.outbound.netguard import AllowList
from saylau.outbound.webhooks import PostgresSubscriptions
from saylau.readmodels.changefeed import last_cursor
from saylau.settings import Settings
from saylau.store import paging
from saylau.store.paging import MAX_PAGE
from saylau.web.contract import errors
from saylau.web.input import RequestBody, Text
from services.api.deps import CursorQuery, PoolDep, SettingsDep, SubscriberDep, after

Kind = Literal["breach", "breach_withdrawn", "detentions", "station", "event", "incident", "urgent"]
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
NOT_YOURS = errors(404, s404="no webhook with this id among this partner's (another "
                             "partner's is not shown either)")


URL_RULES = ("where to POST: an http or https URL whose host resolves, when subscribing, "
             "only to public addresses, or is named in the operator's WEBHOOK_ALLOW_HOSTS; "
             "a host that does not resolve, or resolves to a loopback, private, link-local, "
             "multicast, reserved or cloud-metadata address, is refused with 422 naming url")


class WebhookCreate(RequestBody):
    """A subscription: where to POST, which kinds of change, optionally one region."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"url": "https://hooks.example.org/saylau", "kinds": ["breach"], "region": "Almaty"}]})

    url: AnyHttpUrl = Field(max_length=2000, description=URL_RULES,
                            json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"})
    kinds: list[Kind] = Field(min_length=1, max_length=7)
    region: Text | None = Field(default=None, min_length=1, max_length=100)


@contextlib.asynccontextmanager
async def subscriptions(db: asyncpg.Pool, cfg: Settings) -> AsyncIterator[PostgresSubscriptions]:
    async with db.acquire() as conn:
        yield PostgresSubscriptions(conn, cfg.ingest_schema)


@router.post("", status_code=201)
async def create_webhook(body: WebhookCreate, db: PoolDep, cfg: SettingsDep,
                         who: SubscriberDep) -> Any:
    """Subscribe; the answer holds the signing secret, shown this once only. A key or
    account bound to regions subscribes within them (``reach``)."""
    if body.region is not None and not who.reach.sees(body.region):
        raise HTTPException(422, [{"loc": ["body", "region"], "type": "value_error",
                                   "msg": "not one of the regions this key or account is "
                                          "bound to"}])
    allow = AllowList.parse(cfg.webhook_allow_hosts)
    if reason := await outbound.check(str(body.url), allow):
        raise HTTPException(422, [{"loc": ["body", "url"], "msg": reason, "type": "value_error"}])
    async with subscriptions(db, cfg) as subs:
        after = await last_cursor(subs.conn)
        return await subs.create(who.partner, str(body.url), list(body.kinds), body.region,
                                 after, who.reach)


@router.get("")
async def list_webhooks(db: PoolDep, cfg: SettingsDep, who: SubscriberDep) -> Any:
    """This partner's subscriptions (without secrets)."""
    async with subscriptions(db, cfg) as subs:
        return {"webhooks": await subs.list(who.partner)}


@router.get("/{webhook_id}/deliveries", responses=NOT_YOURS)
async def list_deliveries(webhook_id: uuid.UUID, db: PoolDep, cfg: SettingsDep,
                          who: SubscriberDep,
                          limit: int = Query(100, ge=1, le=MAX_PAGE),
                          cursor: CursorQuery = None) -> Any:
    """The delivery log, newest first: status, attempts, and each attempt's HTTP result
    (keyset pages)."""
    key = after("deliveries", cursor, (paging.integer,))
    async with subscriptions(db, cfg) as subs:
        if not await subs.owned(who.partner, webhook_id):
            raise HTTPException(404, f"no webhook {webhook_id}")
        found, next_cursor = await subs.deliveries(webhook_id, limit, key and key[0])
    return {"id": str(webhook_id), "deliveries": found, "next": next_cursor}


@router.delete("/{webhook_id}", status_code=204, responses=NOT_YOURS)
async def delete_webhook(webhook_id: uuid.UUID, db: PoolDep, cfg: SettingsDep,
                         who: SubscriberDep) -> Response:
    """Unsubscribe; deliveries not yet made are cancelled."""
    async with subscriptions(db, cfg) as subs:
        if not await subs.delete(who.partner, webhook_id):
            raise HTTPException(404, f"no webhook {webhook_id}")
    return Response(status_code=204)
