"""One signed POST of a delivery (Standard Webhooks headers), timed, sent only to an address
``saylau.outbound.delivery`` checked (a target inside the deployment is refused, not contacted)."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx

from saylau.outbound import delivery as outbound
from saylau.outbound.netguard import AllowList
from saylau.outbound.webhooks import signed_headers


async def post(client: httpx.AsyncClient, allow: AllowList, url: str, secret: str,
               delivery: uuid.UUID, body: bytes) -> tuple[int | None, str | None, int]:
    """One signed POST to the checked address of ``url``: ``(HTTP status or None, error text
    or None, milliseconds)``; ``client`` comes from ``outbound.client``."""
    started = time.monotonic()
    headers = {"Content-Type": "application/json", "User-Agent": "SaylauWatch-Webhooks/1",
               **signed_headers(secret, delivery, body, datetime.now(UTC))}
    try:
        reply = await outbound.post(client, url, allow, body, headers)
    except (httpx.HTTPError, outbound.TargetRefused) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started)
    return reply.status_code, None, elapsed_ms(started)


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
