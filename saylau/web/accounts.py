"""Accounts of people at the centre (``saylau users``): a login, one role, the regions a
coordinator is bound to, an argon2id password hash.

An account signs in on the dashboard (``POST /v1/session``); wrong passwords lock it out as
wrong PINs lock an observer out (``saylau.web.lockout``). Who an account is, is looked up
again at most every 2 seconds, so a disabled account's sessions end within that. Its
principal's partner is ``user:<login>``: no account can act as a partner's key, in rate
limits or webhooks, and ``saylau users add`` refuses a login that names a partner.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import HTTPException

from saylau.domain.roles import ROLE_SCOPES, reach_of
from saylau.web.keys import CACHE_SECONDS, Principal
from saylau.web.lockout import MAX_FAILURES, GuardedSecrets, PinHasher

WRONG = "wrong login or password"
DISABLED = "this account is disabled"
ACCOUNT_PARTNER = "user:"
"""An account's principal's partner: ``user:`` and its login."""


def account_principal(row: Any) -> Principal:
    """The principal of an account row (``login``, ``role``, ``regions``)."""
    return Principal(ACCOUNT_PARTNER + row["login"], ROLE_SCOPES.get(row["role"], frozenset()),
                     reach=reach_of(row["regions"]), login=row["login"], role=row["role"])


def locked_wording(login: str, until: datetime) -> str:
    return (f"account {login} is locked out after {MAX_FAILURES} wrong passwords in a row, "
            f"until {until:%H:%M:%S} UTC (the right password too)")


class StaffAccounts:
    """Sign-in and look-up of accounts in ``<ingest schema>.staff_accounts``."""

    def __init__(self, pool: asyncpg.Pool, schema: str, hasher: PinHasher) -> None:
        self.pool, self.table = pool, f'"{schema}".staff_accounts'
        self.guard = GuardedSecrets(pool, self.table, "login", "password_hash", hasher, WRONG,
                                    locked_wording)
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def sign_in(self, login: str, password: str) -> Principal:
        """The account's principal if ``password`` is its own: else 401 (wrong, unknown,
        or disabled) or 429 (locked out)."""
        row = await self.guard.check(login, password)
        if row["disabled_at"] is not None:
            raise HTTPException(401, DISABLED)
        return account_principal(row)

    async def principal(self, login: str) -> Principal | None:
        """The account's principal now (None: disabled or gone), cached ``CACHE_SECONDS``."""
        cached = self._cache.get(login)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        row = await self.pool.fetchrow(f"SELECT login, role, regions FROM {self.table} "
                                       "WHERE login = $1 AND disabled_at IS NULL", login)
        found = account_principal(row) if row else None
        self._cache[login] = (time.monotonic(), found)
        return found


async def add_account(conn: asyncpg.Connection, schema: str, login: str, role: str,
                      regions: list[str], password_hash: str) -> bool:
    """Store a new account; False when the login is taken."""
    done = await conn.execute(
        f'INSERT INTO "{schema}".staff_accounts (login, role, regions, password_hash) '
        "VALUES ($1, $2, $3, $4) ON CONFLICT (login) DO NOTHING",
        login, role, regions, password_hash)
    return not done.endswith(" 0")


async def disable_account(conn: asyncpg.Connection, schema: str, login: str) -> bool:
    """Disable the account and end its sessions; False when there is no such active one."""
    async with conn.transaction():
        done = await conn.execute(
            f'UPDATE "{schema}".staff_accounts SET disabled_at = now() '
            "WHERE login = $1 AND disabled_at IS NULL", login)
        await conn.execute(f'DELETE FROM "{schema}".dashboard_sessions WHERE login = $1', login)
    return not done.endswith(" 0")


async def accounts(conn: asyncpg.Connection, schema: str) -> list[asyncpg.Record]:
    return await conn.fetch(f'SELECT login, role, regions, disabled_at, locked_until '
                            f'FROM "{schema}".staff_accounts ORDER BY login')


async def is_login(conn: asyncpg.Connection, schema: str, name: str) -> bool:
    return bool(await conn.fetchval(
        f'SELECT 1 FROM "{schema}".staff_accounts WHERE login = $1', name))


async def is_partner(conn: asyncpg.Connection, schema: str, name: str) -> bool:
    """Whether a stored key (active or revoked) names ``name`` as its partner."""
    return bool(await conn.fetchval(
        f'SELECT 1 FROM "{schema}".api_keys WHERE partner = $1 LIMIT 1', name))
