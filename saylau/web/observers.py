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
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type
from fastapi import HTTPException

from saylau.web.keys import OBSERVER_TOKEN_PREFIX, hash_key
from saylau.web.service import RateLimiter

ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
"""argon2id at OWASP's first recommendation (19 MiB, 2 passes, 1 lane): about 40 ms of one
core per hash on the reference machine, so 2 cores check some 45 sign-ins a second
(``bench/observer_signin.py``); 10,000 observers in 10 minutes need 17."""
PIN_DIGITS = 8
MAX_FAILURES = 5
LOCK_OUT = timedelta(minutes=15)
WRONG = "wrong observer id or PIN"


def pin_hasher() -> PasswordHasher:
    return PasswordHasher(type=Type.ID, **ARGON2)


def new_pin() -> str:
    """A PIN of ``PIN_DIGITS`` digits from the operating system's random source."""
    return f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"


def new_token() -> str:
    return OBSERVER_TOKEN_PREFIX + secrets.token_urlsafe(32)


class PinHasher:
    """argon2id off the event loop, at most one hash per core at once (each takes 19 MiB)."""

    def __init__(self, threads: int | None = None) -> None:
        self.hasher = pin_hasher()
        self.limiter = anyio.CapacityLimiter(threads or os.cpu_count() or 1)
        self.decoy = self.hasher.hash(new_pin())
        """Checked for an unknown observer id, so its answer costs what a known one's does."""

    async def matches(self, stored: str | None, pin: str) -> bool:
        return await anyio.to_thread.run_sync(self._matches, stored or self.decoy, pin,
                                              limiter=self.limiter) and stored is not None

    def _matches(self, stored: str, pin: str) -> bool:
        try:
            return self.hasher.verify(stored, pin)
        except (VerificationError, InvalidHashError):
            return False


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

    async def check_pin(self, observer_id: str, pin: str) -> None:
        """Return if ``pin`` is hers; else 401 (wrong) or 429 (locked out; the fifth wrong
        PIN in a row answers 429 at once)."""
        row = await self.pool.fetchrow(
            f"SELECT pin_hash, locked_until, now() AS now FROM {self.pins} "
            "WHERE observer_id = $1", observer_id)
        if row is not None:
            locked_out(observer_id, row)
        if not await self.hasher.matches(row["pin_hash"] if row else None, pin):
            if row is not None:
                locked_out(observer_id, await self.pool.fetchrow(FAILED.format(self.pins),
                                                                 observer_id, MAX_FAILURES,
                                                                 LOCK_OUT))
            raise HTTPException(401, WRONG)
        cleared = await self.pool.fetchval(SUCCEEDED.format(self.pins), observer_id,
                                           row["pin_hash"])
        if cleared is None:  # locked out, or given a new PIN, while this one was checked
            locked_out(observer_id, await self.pool.fetchrow(
                f"SELECT locked_until, now() AS now FROM {self.pins} WHERE observer_id = $1",
                observer_id))
            raise HTTPException(401, WRONG)

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


FAILED = ("UPDATE {} SET failures = CASE WHEN failures + 1 >= $2 THEN 0 ELSE failures + 1 END,"
          " locked_until = CASE WHEN failures + 1 >= $2 THEN now() + $3::interval "
          "ELSE locked_until END WHERE observer_id = $1 RETURNING locked_until, now() AS now")
"""One more wrong PIN in a row; the ``MAX_FAILURES``-th locks her out (and starts the count
again for when the lock-out ends)."""
SUCCEEDED = ("UPDATE {} SET failures = 0 WHERE observer_id = $1 AND pin_hash = $2 "
             "AND (locked_until IS NULL OR locked_until <= now()) RETURNING observer_id")
"""The right PIN ends a run of wrong ones, unless a lock-out began meanwhile."""


def locked_out(observer_id: str, row: Any) -> None:
    """429 with Retry-After while ``row`` (``locked_until``, ``now``) says she is locked out."""
    if row is None:
        return
    until, now = row["locked_until"], row["now"]
    if until is not None and until > now:
        raise HTTPException(429, (
            f"observer {observer_id} is locked out after {MAX_FAILURES} wrong PINs in a row, "
            f"until {until.astimezone(UTC):%H:%M:%S} UTC (the right PIN too); the centre can "
            f"lift it at once with: saylau observers unlock {observer_id}"),
            headers={"Retry-After": str(max(1, math.ceil((until - now).total_seconds())))})


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
