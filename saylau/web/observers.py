"""Observers' sign-in: PINs kept as argon2id hashes, lock-out after wrong PINs, tokens.

The centre issues each observer a PIN (``saylau observers issue-pin``); she signs in with
her observer id and PIN (``POST /v1/observer/session``) and gets a token that lasts
``OBSERVER_TOKEN_HOURS`` (36). Only hashes are stored: argon2id for the PIN (slow, so a
stolen table does not give the PINs away cheaply), SHA-256 for the token (random, 256 bits).

Guessing is bounded twice: five wrong PINs in a row lock that observer out for 15 minutes
(in PostgreSQL, so every ingest replica agrees), and each client address may try
``OBSERVER_SIGNIN_PER_MINUTE`` times a minute (in each process's memory).
"""
from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import HTTPException

from saylau.web.keys import OBSERVER_TOKEN_PREFIX, hash_key
from saylau.web.lockout import (
    ARGON2,
    MAX_FAILURES,
    GuardedSecrets,
    PinHasher,
    pin_hasher,
)
from saylau.web.service import RateLimiter

__all__ = ["ARGON2", "AddressLimiter", "ObserverSignIn", "PinHasher", "pin_hasher"]
PIN_DIGITS = 8
WRONG = "wrong observer id or PIN"


def new_pin() -> str:
    """A PIN of ``PIN_DIGITS`` digits from the operating system's random source."""
    return f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"


def new_token() -> str:
    return OBSERVER_TOKEN_PREFIX + secrets.token_urlsafe(32)


class AddressLimiter(RateLimiter):
    """``per_minute`` sign-in attempts per client address, forgetting idle addresses."""

    def __init__(self, per_minute: int, remembered: int = 100_000) -> None:
        super().__init__(per_minute / 60, per_minute)
        self.remembered = remembered

    def refuse(self, address: str) -> None:
        """429 with Retry-After when ``address`` has spent its attempts."""
        if len(self.buckets) > self.remembered:
            self.buckets.clear()  # a sweep from many addresses: start every count afresh
        wait = self.wait_for(address)
        if wait:
            raise HTTPException(429, f"too many sign-in attempts from this address ("
                                     f"{self.burst} a minute); retry later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})


class ObserverSignIn:
    """PIN checks with lock-out, and tokens, in the ingest schema's observer tables."""

    def __init__(self, pool: asyncpg.Pool, schema: str, hasher: PinHasher,
                 token_hours: float) -> None:
        self.pool, self.hasher = pool, hasher
        self.pins, self.tokens = f'"{schema}".observer_pins', f'"{schema}".observer_tokens'
        self.lifetime = timedelta(hours=token_hours)
        self.guard = GuardedSecrets(pool, self.pins, "observer_id", "pin_hash", hasher, WRONG,
                                    locked_wording)

    async def check_pin(self, observer_id: str, pin: str) -> None:
        """Return if ``pin`` is hers; else 401 (wrong) or 429 (locked out; the fifth wrong
        PIN in a row answers 429 at once)."""
        await self.guard.check(observer_id, pin)

    async def issue_token(self, observer_id: str) -> tuple[str, datetime]:
        """A new token for her (her expired ones are dropped), and when it expires."""
        token, now = new_token(), datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {self.tokens} WHERE observer_id = $1 "
                               "AND expires_at < now()", observer_id)
            await conn.execute(f"INSERT INTO {self.tokens} (token_hash, observer_id, "
                               "issued_at, expires_at) VALUES ($1, $2, $3, $4)",
                               hash_key(token), observer_id, now, now + self.lifetime)
        return token, now + self.lifetime



async def observer_of(pool: asyncpg.Pool, schema: str, token_hash: str) -> str | None:
    """The observer a live token was issued to (None: unknown or expired)."""
    found = await pool.fetchval(f'SELECT observer_id FROM "{schema}".observer_tokens '
                                "WHERE token_hash = $1 AND expires_at > now()", token_hash)
    return str(found) if found is not None else None


def locked_wording(observer_id: str, until: datetime) -> str:
    return (f"observer {observer_id} is locked out after {MAX_FAILURES} wrong PINs in a row, "
            f"until {until:%H:%M:%S} UTC (the right PIN too); the centre can lift it at once "
            f"with: saylau observers unlock {observer_id}")


async def store_pins(conn: asyncpg.Connection, schema: str,
                     hashes: list[tuple[str, str]]) -> None:
    """Each (observer id, PIN hash): her new PIN replaces the old one and ends any lock-out;
    her tokens stay valid."""
    await conn.executemany(
        f'INSERT INTO "{schema}".observer_pins (observer_id, pin_hash) VALUES ($1, $2) '
        "ON CONFLICT (observer_id) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, "
        "issued_at = now(), failures = 0, locked_until = NULL", hashes)


async def unlock(conn: asyncpg.Connection, schema: str, observer_id: str) -> bool:
    """Lift her lock-out and forget her wrong PINs; False if she has no PIN."""
    done = await conn.execute(
        f'UPDATE "{schema}".observer_pins SET failures = 0, locked_until = NULL '
        "WHERE observer_id = $1", observer_id)
    return not done.endswith(" 0")
