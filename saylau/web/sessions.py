"""Dashboard sessions: the key is posted once; the browser keeps only a random session id.

The id lives in an HttpOnly cookie (scripts cannot read it, it never appears in a URL, a
``Referer`` or a proxy log); PostgreSQL keeps its hash with the hash of the key it stands for,
so any api replica accepts it, revoking the key ends the session at once (the key is looked
up again on every request) and signing out deletes it.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import asyncpg

COOKIE = "saylau_session"
LIFETIME = timedelta(hours=12)


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PostgresSessions:
    """Sessions in ``<ingest schema>.dashboard_sessions``."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool, self.table = pool, f'"{schema}".dashboard_sessions'

    async def open(self, key_hash: str) -> str:
        """A new session for the key with this hash; the token goes in the cookie."""
        token = secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {self.table} WHERE expires_at < now()")
            await conn.execute(f"INSERT INTO {self.table} (session_hash, key_hash, expires_at) "
                               "VALUES ($1, $2, now() + $3::interval)",
                               session_hash(token), key_hash, LIFETIME)
        return token

    async def key_hash(self, token: str) -> str | None:
        """The hash of the key behind a live session, or None (unknown, expired, signed out)."""
        if not token or len(token) > 100:
            return None
        found = await self.pool.fetchval(
            f"SELECT key_hash FROM {self.table} WHERE session_hash = $1 AND expires_at > now()",
            session_hash(token))
        return str(found) if found else None

    async def close(self, token: str) -> None:
        await self.pool.execute(f"DELETE FROM {self.table} WHERE session_hash = $1",
                                session_hash(token))
