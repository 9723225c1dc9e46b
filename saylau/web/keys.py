"""API keys: stored hashed, with scopes, revocable without restart; and observers' tokens."""
from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from saylau.domain.observers import OBSERVER_SCOPE, ObserverGrant
from saylau.domain.roles import NAME_READERS, NATIONAL, Reach, reach_of

SCOPES = ("ingest", "read", "audit", "admin", "triage", "broadcast")
CACHE_SECONDS = 2.0
OBSERVER_TOKEN_PREFIX = "ob_"
"""An observer's sign-in token (``POST /v1/observer/session``); API keys start ``sw_``."""
OBSERVER_SCOPES = frozenset({OBSERVER_SCOPE})
"""An observer token's only scope: no API route asks for it, so it reads nothing there."""
ObserverTokens = Callable[[str], Awaitable[ObserverGrant | None]]
"""The grant behind a live observer token, by the token's hash (None: unknown or expired)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a partner's key with its scopes, an account of a person at the centre
    (``login`` and ``role``, signed in on the dashboard), or an observer's token
    (``observer``: what she may post, which ``saylau.intake`` enforces). ``reach``: the
    regions it may see and act on (national unless bound)."""

    partner: str
    scopes: frozenset[str]
    observer: ObserverGrant | None = None
    reach: Reach = NATIONAL
    login: str | None = None
    role: str | None = None

    @property
    def actor(self) -> str:
        """Who did it, as triage events record it: the account's login, else the key's
        partner (set by the server, never taken from a body)."""
        return self.login or self.partner

    @property
    def sees_names(self) -> bool:
        """Names of detained people and observers, and free text: accounts by role (a
        coordinator's reads hold only her regions), keys with ``audit`` or ``admin``."""
        if self.role is not None:
            return self.role in NAME_READERS
        return bool({"audit", "admin"} & self.scopes)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "sw_" + secrets.token_urlsafe(24)


def parse_env_keys(spec: str) -> dict[str, Principal]:
    """``partner:key[:scope+scope],…`` from SAYLAU_API_KEYS; no scopes means all scopes."""
    keys: dict[str, Principal] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        partner, _, rest = item.partition(":")
        key, _, scopes = rest.partition(":")
        if not partner or not key:
            raise ValueError(f"SAYLAU_API_KEYS entry {item!r} is not partner:key")
        keys[hash_key(key)] = Principal(partner, frozenset(scopes.split("+")) if scopes
                                        else frozenset(SCOPES))
    return keys


class KeyRing:
    """Looks keys up in the environment list, then in ``<ingest schema>.api_keys``; observer
    tokens through ``observers`` (each answer cached 2 s: a revoked key or accreditation is
    refused within that, plus the projection's lag for an accreditation)."""

    def __init__(self, env_keys: dict[str, Principal], pool: asyncpg.Pool | None,
                 schema: str = "ingest", observers: ObserverTokens | None = None) -> None:
        self.env_keys = env_keys
        self.pool = pool
        self.schema = schema
        self.observers = observers
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, key: str) -> Principal | None:
        if key.startswith(OBSERVER_TOKEN_PREFIX):
            return await self._cached(hash_key(key), self._observer)
        return await self.principal_of_digest(hash_key(key))

    async def principal_of_digest(self, digest: str) -> Principal | None:
        """The key with this hash (what a dashboard session remembers instead of the key)."""
        if digest in self.env_keys:
            return self.env_keys[digest]
        return await self._cached(digest, self._lookup)

    async def _cached(self, digest: str,
                      lookup: Callable[[str], Awaitable[Principal | None]]) -> Principal | None:
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        found = await lookup(digest)
        self._cache[digest] = (time.monotonic(), found)
        return found

    async def _observer(self, digest: str) -> Principal | None:
        grant = await self.observers(digest) if self.observers is not None else None
        return Principal(grant.partner, OBSERVER_SCOPES, grant) if grant else None

    async def _lookup(self, digest: str) -> Principal | None:
        if self.pool is None:
            return None
        row = await self.pool.fetchrow(
            f'SELECT partner, scopes, regions FROM "{self.schema}".api_keys WHERE key_hash = $1 '
            "AND revoked_at IS NULL", digest)
        return Principal(row["partner"], frozenset(row["scopes"]),
                         reach=reach_of(row["regions"])) if row else None
