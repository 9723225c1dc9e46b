"""Dashboard sessions: a key or a login and password is posted once; the browser keeps only a
random session id.

The id lives in an HttpOnly cookie (scripts cannot read it, it never appears in a URL, a
``Referer`` or a proxy log); PostgreSQL keeps its hash with the hash of the key, or the login
of the account, it stands for, so any replica (api or ingest) accepts it, revoking the key or
disabling the account ends the session within seconds (both are looked up again, at most
2 s cached) and signing out deletes it.

Writes made with a session need more than SameSite: each session has a CSRF token, which
the page reads from ``GET /v1/session`` and sends as ``X-CSRF-Token``. It is derived from the
session id (an HMAC, so it reveals nothing of the id) and only its hash is stored.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from fastapi import HTTPException, Request

from saylau.web.keys import KeyRing, Principal

COOKIE = "saylau_session"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME = timedelta(hours=12)


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose cookie holds ``token``."""
    mac = hmac.new(token.encode(), b"saylau csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclass(frozen=True)
class Session:
    """What a live session stands for: a key (its hash) or an account (its login)."""

    key_hash: str | None
    login: str | None
    csrf_hash: str | None

    def carries(self, given: str) -> bool:
        """Whether ``given`` (the ``X-CSRF-Token`` header) is this session's CSRF token."""
        return bool(self.csrf_hash and given) and hmac.compare_digest(
            session_hash(given), self.csrf_hash or "")


class PostgresSessions:
    """Sessions in ``<ingest schema>.dashboard_sessions``."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool, self.table = pool, f'"{schema}".dashboard_sessions'

    async def open(self, key_hash: str | None = None, login: str | None = None) -> str:
        """A new session for the key with this hash, or the account with this login; the
        token goes in the cookie."""
        token = secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {self.table} WHERE expires_at < now()")
            await conn.execute(f"INSERT INTO {self.table} (session_hash, key_hash, login, "
                               "csrf_hash, expires_at) VALUES ($1, $2, $3, $4, "
                               "now() + $5::interval)", session_hash(token), key_hash, login,
                               session_hash(csrf_token(token)), LIFETIME)
        return token

    async def find(self, token: str) -> Session | None:
        """What a live session stands for, or None (unknown, expired, signed out)."""
        if not token or len(token) > 100:
            return None
        row = await self.pool.fetchrow(
            f"SELECT key_hash, login, csrf_hash FROM {self.table} WHERE session_hash = $1 "
            "AND expires_at > now()", session_hash(token))
        return Session(row["key_hash"], row["login"], row["csrf_hash"]) if row else None

    async def close(self, token: str) -> None:
        await self.pool.execute(f"DELETE FROM {self.table} WHERE session_hash = $1",
                                session_hash(token))


def reading(request: Request) -> bool:
    return request.method in ("GET", "HEAD")


async def session_principal(request: Request, ring: KeyRing,
                            writes: bool = False) -> Principal | None:
    """The key or account the dashboard signed in with (session cookie): for reading (GET
    and HEAD), and for writes where the route takes them, which must carry the session's
    CSRF token from an allowed origin (``refuse_forged``). None without a live session or
    when its key was revoked or its account disabled (looked up at most 2 s cached)."""
    sessions = getattr(request.app.state, "sessions", None)
    token = request.cookies.get(COOKIE)
    if sessions is None or not token or not (writes or reading(request)):
        return None
    found = await sessions.find(token)
    if found is None:
        return None
    if not reading(request):
        refuse_forged(request, found)
    if found.key_hash:
        return await ring.principal_of_digest(found.key_hash)
    accounts = getattr(request.app.state, "accounts", None)
    return await accounts.principal(found.login) if accounts and found.login else None


def refuse_forged(request: Request, session: Session) -> None:
    """403 unless a write made with the session comes from an allowed origin (when the
    browser names one: the service's own, or ``SAYLAU_DASHBOARD_ORIGINS``) and carries the
    session's CSRF token (``X-CSRF-Token``): SameSite alone leaves a sibling site's page
    free to post."""
    origin = request.headers.get("origin")
    allowed = {f"{request.url.scheme}://{request.url.netloc}",
               *getattr(request.app.state, "dashboard_origins", ())}
    if origin and origin not in allowed:
        raise HTTPException(403, f"a write with the dashboard session from {origin[:100]!r} "
                                 "is refused: not the dashboard's origin")
    if not session.carries(request.headers.get(CSRF_HEADER, "")):
        raise HTTPException(403, f"a write with the dashboard session needs the {CSRF_HEADER} "
                                 "header: the csrf_token of GET /v1/session")


def origins(listed: str) -> list[str]:
    """A comma-separated list of origins, as a list."""
    return [o.strip().rstrip("/") for o in listed.split(",") if o.strip()]
