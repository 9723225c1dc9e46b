"""One signed POST of a delivery (Standard Webhooks headers), timed."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx

from saylau.webhooks import signed_headers


async def post(client: httpx.AsyncClient, url: str, secret: str, delivery: uuid.UUID,
               body: bytes) -> tuple[int | None, str | None, int]:
    """One signed POST: ``(HTTP status or None, error text or None, milliseconds)``."""
    started = time.monotonic()
    headers = {"Content-Type": "application/json", "User-Agent": "SaylauWatch-Webhooks/1",
               **signed_headers(secret, delivery, body, datetime.now(UTC))}
    try:
        reply = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started)
    return reply.status_code, None, elapsed_ms(started)


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
