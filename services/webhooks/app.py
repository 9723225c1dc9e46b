"""Webhook worker: follows the change feed and POSTs signed changes to subscribers.

Run: ``python -m services.webhooks.app``. Two loops share one database:

* ``enqueue_changes`` reads ``changes`` after the stored cursor, writes one delivery per
  matching subscription and moves the cursor **in the same transaction**, so a restart
  neither skips nor repeats a change (LISTEN ``saylau_changes`` wakes it; it also polls).
* ``deliver_due`` claims due deliveries (``SKIP LOCKED``, so several workers may run),
  POSTs them, logs every attempt and schedules retries with exponential backoff until
  ``WEBHOOK_MAX_ATTEMPTS``. A crash between POST and log means one more POST with the
  same ``webhook-id``: at-least-once, and the id lets subscribers dedup. Signatures follow
  the Standard Webhooks specification (``saylau.outbound.webhooks.signed_headers``).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

from saylau.bootstrap import Needs, bootstrap
from saylau.domain.roles import reach_of
from saylau.outbound import delivery as outbound
from saylau.outbound.netguard import AllowList
from saylau.outbound.webhooks import (
    Subscription,
    backoff,
    delivery_body,
    delivery_id,
)
from saylau.readmodels.changefeed import CHANNEL, changes_after
from saylau.settings import Settings
from saylau.store.db import UNAVAILABLE
from saylau.web.service import setup_logging
from services.webhooks.sender import post

log = logging.getLogger("saylau.outbound.webhooks")
FETCH_LIMIT = 1000
CLAIM_LIMIT = 20


class WebhookSettings(Settings):
    """The shared settings plus the worker's retry policy."""

    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 2.0
    webhook_backoff_cap_seconds: float = 600.0
    webhook_timeout_seconds: float = 10.0
    webhook_poll_seconds: float = 1.0


class Worker:
    def __init__(self, cfg: WebhookSettings, pool: asyncpg.Pool) -> None:
        self.cfg, self.pool = cfg, pool
        self.changes = f'"{cfg.read_schema}".changes'
        self.new_changes, self.new_deliveries = asyncio.Event(), asyncio.Event()
        self.allow = AllowList.parse(cfg.webhook_allow_hosts)

    async def enqueue_changes(self) -> int:
        """Turn the next changes into deliveries; how many changes were read."""
        async with self.pool.acquire() as conn, conn.transaction():
            cursor = await self._cursor(conn)
            rows = await changes_after(conn, cursor, FETCH_LIMIT, self.cfg.read_schema)
            if not rows:
                return 0
            subs = await active_subscriptions(conn)
            deliveries = [(delivery_id(s.subscription_id, c["cursor"]), s.subscription_id,
                           c["cursor"], c["kind"], delivery_body(s.subscription_id, dict(c)))
                          for c in rows for s in subs if s.wants(dict(c))]
            await conn.executemany(
                "INSERT INTO webhook_deliveries (delivery_id, subscription_id, cursor, kind, "
                "body, status, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', now()) "
                "ON CONFLICT DO NOTHING", deliveries)
            await conn.execute("UPDATE webhook_cursor SET value = $2 WHERE read_schema = $1",
                               self.cfg.read_schema, rows[-1]["cursor"])
        if deliveries:
            self.new_deliveries.set()
        return len(rows)

    async def _cursor(self, conn: asyncpg.Connection) -> int:
        """The stored cursor; first run: from the oldest subscription, else from now."""
        await conn.execute(
            "INSERT INTO webhook_cursor (read_schema, value) SELECT $1, COALESCE("
            "(SELECT min(after_cursor) FROM webhook_subscriptions WHERE deleted_at IS NULL), "
            f"(SELECT COALESCE(max(cursor), 0) FROM {self.changes})) "
            "ON CONFLICT DO NOTHING", self.cfg.read_schema)
        return int(await conn.fetchval("SELECT value FROM webhook_cursor WHERE read_schema = $1 "
                                       "FOR UPDATE", self.cfg.read_schema))

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """POST every due delivery once; how many were tried."""
        lease = self.cfg.webhook_timeout_seconds + 30
        rows = await self.pool.fetch(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, "
            "next_attempt_at = now() + make_interval(secs => $1) FROM webhook_subscriptions s "
            "WHERE s.subscription_id = d.subscription_id AND d.delivery_id IN ("
            "SELECT delivery_id FROM webhook_deliveries WHERE status = 'pending' AND "
            "next_attempt_at <= now() ORDER BY next_attempt_at, cursor LIMIT $2 "
            "FOR UPDATE SKIP LOCKED) RETURNING d.delivery_id, d.body, d.attempts, s.url, "
            "s.secret, s.deleted_at", lease, CLAIM_LIMIT)
        await asyncio.gather(*(self._deliver(client, dict(r)) for r in rows))
        return len(rows)

    async def _deliver(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        if row["deleted_at"] is not None:
            await self.pool.execute("UPDATE webhook_deliveries SET status = 'cancelled' "
                                    "WHERE delivery_id = $1", row["delivery_id"])
            return
        code, error, took = await post(client, self.allow, row["url"], row["secret"],
                                       row["delivery_id"], row["body"].encode())
        await self._log_attempt(row, code, error, took)

    async def _log_attempt(self, row: dict[str, Any], code: int | None, error: str | None,
                           took: int) -> None:
        attempt, ok = row["attempts"], code is not None and 200 <= code < 300
        status = "delivered" if ok else (
            "failed" if attempt >= self.cfg.webhook_max_attempts else "pending")
        wait = backoff(attempt, self.cfg.webhook_backoff_seconds,
                       self.cfg.webhook_backoff_cap_seconds)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, "
                "duration_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                row["delivery_id"], attempt, code, error, took)
            await conn.execute(
                "UPDATE webhook_deliveries SET status = $2, "
                "next_attempt_at = now() + make_interval(secs => $3) WHERE delivery_id = $1",
                row["delivery_id"], status, wait)
        if not ok:
            log.info("delivery %s attempt %d failed (%s); %s", row["delivery_id"], attempt,
                     code or error, status if status != "pending" else f"retry in {wait}s")

    async def follow(self) -> None:
        """Enqueue on every NOTIFY (and every poll interval, in case one was missed)."""
        while True:
            while await self.enqueue_changes() == FETCH_LIMIT:
                pass
            with _suppress_timeout():
                await asyncio.wait_for(self.new_changes.wait(), self.cfg.webhook_poll_seconds)
            self.new_changes.clear()

    async def deliver(self) -> None:
        async with outbound.client(self.cfg.webhook_timeout_seconds) as client:
            while True:
                if await self.deliver_due(client):
                    continue
                with _suppress_timeout():
                    await asyncio.wait_for(self.new_deliveries.wait(),
                                           min(self.cfg.webhook_poll_seconds, 0.5))
                self.new_deliveries.clear()


async def active_subscriptions(conn: asyncpg.Connection) -> list[Subscription]:
    rows = await conn.fetch("SELECT subscription_id, url, kinds, region, after_cursor, reach "
                            "FROM webhook_subscriptions WHERE deleted_at IS NULL")
    return [Subscription(r["subscription_id"], r["url"], frozenset(r["kinds"]), r["region"],
                         r["after_cursor"], reach_of(r["reach"])) for r in rows]


def _suppress_timeout() -> contextlib.suppress:
    return contextlib.suppress(TimeoutError)


async def keep_running(loop: Callable[[], Awaitable[None]]) -> None:
    """Run ``loop`` again after a database outage (or a bug) instead of dying with it."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, UNAVAILABLE):
            log.warning("%s stopped (%s); again in 1 s", loop.__name__, exc)
        else:
            log.error("%s failed; again in 1 s", loop.__name__, exc_info=exc)

    retrying = AsyncRetrying(retry=retry_if_exception_type(Exception), wait=wait_fixed(1),
                             before_sleep=before_sleep)
    await retrying(loop)


async def main(cfg: WebhookSettings | None = None) -> None:
    cfg = cfg or WebhookSettings()
    setup_logging()
    wiring = await bootstrap(cfg, Needs(search_path=cfg.ingest_schema, pool_size=4))
    worker = Worker(cfg, wiring.pool)
    listener = await asyncpg.connect(cfg.dsn)
    await listener.add_listener(CHANNEL, lambda *_: worker.new_changes.set())
    log.info("webhook worker following %s.changes", cfg.read_schema)
    try:
        await asyncio.gather(keep_running(worker.follow), keep_running(worker.deliver))
    finally:
        await listener.close()
        await wiring.close()


if __name__ == "__main__":
    asyncio.run(main())
