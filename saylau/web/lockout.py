"""Secrets people type (observers' PINs, staff passwords): argon2id hashes, and a lock-out
after wrong ones in a row.

Five wrong secrets in a row lock that name out for 15 minutes, in PostgreSQL (so every
replica agrees); an unknown name costs one hash like a known one and is answered alike.
"""
from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type
from fastapi import HTTPException

ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
"""argon2id at OWASP's first recommendation (19 MiB, 2 passes, 1 lane): about 40 ms of one
core per hash on the reference machine, so 2 cores check some 45 sign-ins a second
(``bench/observer_signin.py``); 10,000 observers in 10 minutes need 17."""
MAX_FAILURES = 5
LOCK_OUT = timedelta(minutes=15)


def pin_hasher() -> PasswordHasher:
    return PasswordHasher(type=Type.ID, **ARGON2)


class PinHasher:
    """argon2id off the event loop, at most one hash per core at once (each takes 19 MiB)."""

    def __init__(self, threads: int | None = None) -> None:
        self.hasher = pin_hasher()
        self.limiter = anyio.CapacityLimiter(threads or os.cpu_count() or 1)
        self.decoy = self.hasher.hash(secrets.token_hex(8))
        """Checked for an unknown name, so its answer costs what a known one's does."""

    async def matches(self, stored: str | None, pin: str) -> bool:
        return await anyio.to_thread.run_sync(self._matches, stored or self.decoy, pin,
                                              limiter=self.limiter) and stored is not None

    def _matches(self, stored: str, pin: str) -> bool:
        try:
            return self.hasher.verify(stored, pin)
        except (VerificationError, InvalidHashError):
            return False


LockedOut = Callable[[str, datetime], str]
"""The 429's wording for a name locked out until a time (UTC)."""


@dataclass(frozen=True)
class GuardedSecrets:
    """A table whose rows (keyed by ``key``) hold a secret's hash (``secret``), ``failures``
    and ``locked_until``."""

    pool: asyncpg.Pool
    table: str
    key: str
    secret: str
    hasher: PinHasher
    wrong: str
    """The 401's wording, the same for an unknown name and a wrong secret."""
    locked: LockedOut

    async def check(self, name: str, given: str) -> asyncpg.Record:
        """The row of ``name`` if ``given`` is its secret; else 401 (wrong, or unknown) or 429
        (locked out; the fifth wrong secret in a row answers 429 at once)."""
        row = await self.pool.fetchrow(
            f"SELECT *, now() AS now FROM {self.table} WHERE {self.key} = $1", name)
        if row is not None:
            self.refuse_locked(name, row)
        if not await self.hasher.matches(row[self.secret] if row else None, given):
            if row is not None:
                self.refuse_locked(name, await self.pool.fetchrow(
                    FAILED.format(table=self.table, key=self.key), name, MAX_FAILURES,
                    LOCK_OUT))
            raise HTTPException(401, self.wrong)
        cleared = await self.pool.fetchval(
            SUCCEEDED.format(table=self.table, key=self.key, secret=self.secret), name,
            row[self.secret])
        if cleared is None:  # locked out, or given a new secret, while this one was checked
            self.refuse_locked(name, await self.pool.fetchrow(
                f"SELECT locked_until, now() AS now FROM {self.table} WHERE {self.key} = $1",
                name))
            raise HTTPException(401, self.wrong)
        return row

    def refuse_locked(self, name: str, row: Any) -> None:
        """429 with Retry-After while ``row`` (``locked_until``, ``now``) says ``name`` is
        locked out."""
        if row is None:
            return
        until, now = row["locked_until"], row["now"]
        if until is not None and until > now:
            raise HTTPException(429, self.locked(name, until.astimezone(UTC)), headers={
                "Retry-After": str(max(1, math.ceil((until - now).total_seconds())))})


FAILED = ("UPDATE {table} SET failures = CASE WHEN failures + 1 >= $2 THEN 0 "
          "ELSE failures + 1 END, locked_until = CASE WHEN failures + 1 >= $2 "
          "THEN now() + $3::interval ELSE locked_until END WHERE {key} = $1 "
          "RETURNING locked_until, now() AS now")
"""One more wrong secret in a row; the ``MAX_FAILURES``-th locks the name out (and starts the
count again for when the lock-out ends)."""
SUCCEEDED = ("UPDATE {table} SET failures = 0 WHERE {key} = $1 AND {secret} = $2 "
             "AND (locked_until IS NULL OR locked_until <= now()) RETURNING {key}")
"""The right secret ends a run of wrong ones, unless a lock-out began meanwhile."""
