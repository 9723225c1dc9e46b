"""Outgoing webhooks: subscriptions, the delivery log, and how a delivery is signed.

Subscriptions are configuration, not projections: they live in the ingest-side schema
(``INGEST_SCHEMA``) next to API keys, are never replayed, and survive a read-model rebuild.
A delivery is a change from the change feed for one subscription; its id is derived from
both, so a redelivery after a crash carries the same ``webhook-id``.
"""
from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from standardwebhooks import Webhook

from saylau.domain.roles import NATIONAL, Reach
from saylau.store import paging
from saylau.store.ddl import WEBHOOKS, table

KINDS = ("breach", "breach_withdrawn", "detentions", "station", "event")
DELIVERY_NAMESPACE = uuid.UUID("0c7d7f55-2a53-5c5e-8f0d-3e8e0f6b9a11")

webhook_subscriptions = table(
    "webhook_subscriptions", WEBHOOKS,
    Column("subscription_id", UUID, primary_key=True),
    Column("partner", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("kinds", ARRAY(Text), nullable=False),
    Column("region", Text),
    Column("reach", ARRAY(Text)),  # the registering principal's regions; NULL: national
    Column("secret", Text, nullable=False),
    Column("after_cursor", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("deleted_at", DateTime(timezone=True)),
)

webhook_deliveries = table(
    "webhook_deliveries", WEBHOOKS,
    Column("delivery_id", UUID, primary_key=True),
    Column("subscription_id", UUID, ForeignKey("webhook_subscriptions.subscription_id"),
           nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("webhook_deliveries_due", "next_attempt_at",
          postgresql_where=text("status = 'pending'")),
    Index("webhook_deliveries_log", "subscription_id", "cursor"),
)

webhook_attempts = table(
    "webhook_attempts", WEBHOOKS,
    Column("delivery_id", UUID, ForeignKey("webhook_deliveries.delivery_id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False,
           server_default=text("now()")),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    PrimaryKeyConstraint("delivery_id", "attempt"),
)

webhook_cursor = table(
    "webhook_cursor", WEBHOOKS,
    Column("read_schema", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class Subscription:
    """Which changes a partner wants POSTed to ``url``."""

    subscription_id: uuid.UUID
    url: str
    kinds: frozenset[str]
    region: str | None
    after_cursor: int
    reach: Reach = NATIONAL
    """The regions of the principal that registered it: a regional key's or account's
    webhook receives only its regions' changes (placeless changes are national)."""

    def wants(self, change: dict[str, Any]) -> bool:
        """Changes after the subscription was made, of a wanted kind (and region), within
        its reach."""
        return (change["cursor"] > self.after_cursor and change["kind"] in self.kinds
                and (self.region is None or change["region"] == self.region)
                and self.reach.sees(change["region"]))


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def delivery_id(subscription_id: uuid.UUID, cursor: int) -> uuid.UUID:
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{subscription_id}|{cursor}")


def delivery_body(subscription_id: uuid.UUID, change: dict[str, Any]) -> str:
    """The JSON POSTed: the change as the live stream shows it, plus the delivery's ids."""
    return orjson.dumps({
        "delivery_id": str(delivery_id(subscription_id, change["cursor"])),
        "subscription_id": str(subscription_id), "cursor": change["cursor"],
        "kind": change["kind"], "region": change["region"], "station_id": change["station_id"],
        "data": orjson.loads(change["data"])}).decode()


def signed_headers(secret: str, delivery: uuid.UUID, body: bytes,
                   at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: ``webhook-id`` (the delivery id, the same on every
    retry), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
    (``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``)."""
    signature = signer(secret).sign(str(delivery), at, body.decode())
    return {"webhook-id": str(delivery), "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature}


def signer(secret: str) -> Webhook:
    """The signer of a ``whsec_<base64>`` secret; a secret made before Standard Webhooks
    (``whsec_<url-safe text>``, not base64) signs with its text after ``whsec_`` as the key."""
    try:
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return Webhook(secret.removeprefix("whsec_").encode())
    return Webhook(secret)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry ``attempt + 1``: base, 2·base, 4·base, … at most ``cap``."""
    return float(min(cap, base * 2 ** max(attempt - 1, 0)))


class PostgresSubscriptions:
    """Subscriptions and their delivery log, for the API (queries scoped to one partner)."""

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.s = conn, f'"{schema}"'

    async def create(self, partner: str, url: str, kinds: list[str], region: str | None,
                     after_cursor: int, reach: Reach = NATIONAL) -> dict[str, Any]:
        """A new subscription, bound to ``reach`` (its principal's regions)."""
        row = await self.conn.fetchrow(
            f"INSERT INTO {self.s}.webhook_subscriptions (subscription_id, partner, url, kinds, "
            "region, reach, secret, after_cursor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "RETURNING subscription_id, url, kinds, region, reach, secret, created_at",
            uuid.uuid4(), partner, url, sorted(set(kinds)), region, reach.filter(),
            new_secret(), after_cursor)
        return public(row, with_secret=True)

    async def list(self, partner: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.s}.webhook_subscriptions WHERE partner = $1 "
            "AND deleted_at IS NULL ORDER BY created_at", partner)
        return [public(r) for r in rows]

    async def owned(self, partner: str, subscription_id: uuid.UUID) -> bool:
        return bool(await self.conn.fetchval(
            f"SELECT 1 FROM {self.s}.webhook_subscriptions WHERE subscription_id = $1 "
            "AND partner = $2 AND deleted_at IS NULL", subscription_id, partner))

    async def delete(self, partner: str, subscription_id: uuid.UUID) -> bool:
        async with self.conn.transaction():
            found = await self.conn.fetchval(
                f"UPDATE {self.s}.webhook_subscriptions SET deleted_at = now() "
                "WHERE subscription_id = $1 AND partner = $2 AND deleted_at IS NULL "
                "RETURNING 1", subscription_id, partner)
            await self.conn.execute(
                f"UPDATE {self.s}.webhook_deliveries SET status = 'cancelled' "
                "WHERE subscription_id = $1 AND status = 'pending'", subscription_id)
        return bool(found)

    async def deliveries(self, subscription_id: uuid.UUID, limit: int,
                         before: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A keyset page, newest first by change cursor (unique per subscription, fixed), each
        with every attempt (time, HTTP status or error, duration)."""
        rows = await self.conn.fetch(
            f"SELECT d.delivery_id, d.cursor, d.kind, d.status, d.attempts, d.next_attempt_at, "
            "d.created_at, COALESCE(jsonb_agg(jsonb_build_object('attempt', a.attempt, "
            "'at', a.attempted_at, 'status_code', a.status_code, 'error', a.error, "
            "'duration_ms', a.duration_ms) ORDER BY a.attempt) FILTER (WHERE a.attempt "
            "IS NOT NULL), '[]')::text AS log "
            f"FROM {self.s}.webhook_deliveries d LEFT JOIN {self.s}.webhook_attempts a "
            "USING (delivery_id) WHERE d.subscription_id = $1 "
            "AND ($3::bigint IS NULL OR d.cursor < $3) GROUP BY d.delivery_id "
            "ORDER BY d.cursor DESC LIMIT $2", subscription_id, limit + 1, before)
        shown, next_cursor = paging.page("deliveries", rows, limit, lambda r: [r["cursor"]])
        return [{**{k: v for k, v in dict(r).items() if k != "log"},
                 "attempt_log": orjson.loads(r["log"])} for r in shown], next_cursor


def public(row: asyncpg.Record, with_secret: bool = False) -> dict[str, Any]:
    """A subscription as its owner sees it; the secret only once, when it is made."""
    out = {"id": str(row["subscription_id"]), "url": row["url"], "kinds": list(row["kinds"]),
           "region": row["region"], "reach": row["reach"], "created_at": row["created_at"]}
    return {**out, "secret": row["secret"]} if with_secret else out
