"""API keys: stored hashed, with scopes, revocable without restart."""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import asyncpg

SCOPES = ("ingest", "read", "audit", "admin", "triage")
CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class Principal:
    partner: str
    scopes: frozenset[str]


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
    """Looks keys up in the environment list, then in ``<ingest schema>.api_keys`` (cached 2 s)."""

    def __init__(self, env_keys: dict[str, Principal], pool: asyncpg.Pool | None,
                 schema: str = "ingest") -> None:
        self.env_keys = env_keys
        self.pool = pool
        self.schema = schema
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, key: str) -> Principal | None:
        return await self.principal_of_digest(hash_key(key))

    async def principal_of_digest(self, digest: str) -> Principal | None:
        """The key with this hash (what a dashboard session remembers instead of the key)."""
        if digest in self.env_keys:
            return self.env_keys[digest]
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        found = await self._lookup(digest)
        self._cache[digest] = (time.monotonic(), found)
        return found

    async def _lookup(self, digest: str) -> Principal | None:
        if self.pool is None:
            return None
        row = await self.pool.fetchrow(
            f'SELECT partner, scopes FROM "{self.schema}".api_keys WHERE key_hash = $1 '
            "AND revoked_at IS NULL", digest)
        return Principal(row["partner"], frozenset(row["scopes"])) if row else None
