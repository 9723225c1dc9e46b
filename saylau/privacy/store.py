"""Data keys in PostgreSQL, wrapped by the master key; erased by deleting the wrapped key.

The table (``saylau.store.db.personal_data_keys``, on the one MetaData) lives in the ingest
schema: it is not a read model and is never replayed. Its one home is the ingest schema's
migrations (``saylau migrate``, or a service starting with MIGRATE_ON_START); the store
only opens it.
"""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable

import asyncpg

from saylau.privacy.keys import KeyWrapper, LocalMasterKey, MasterKeyError, load_master_key
from saylau.privacy.sealing import DataKey, Keyring, blind_index
from saylau.settings import Settings
from saylau.store.migrations import SchemaBehind

INDEX_KEY_ID = "index:v1"
"""The row holding the blind-index key, wrapped like a data key so rotation keeps it."""


class PostgresKeyStore:
    """Create, fetch (LRU-cached for ``ttl`` seconds: an erasure reaches every api process
    within that time, like a key revocation), erase and re-wrap data keys."""

    def __init__(self, pool: asyncpg.Pool, wrapper: KeyWrapper, schema: str,
                 index_key: bytes, cache_size: int = 50_000, ttl: float = 2.0) -> None:
        self.pool, self.wrapper, self.index_key = pool, wrapper, index_key
        self.table = f'"{schema}".personal_data_keys'
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._cache_size, self._ttl = cache_size, ttl

    @classmethod
    async def open(cls, pool: asyncpg.Pool, wrapper: KeyWrapper, schema: str,
                   **options: float) -> PostgresKeyStore:
        """Check ``wrapper`` is the master key of the stored keys: a wrong or lost master key
        fails here, at startup (MasterKeyError), as does a schema never migrated
        (SchemaBehind)."""
        try:
            async with pool.acquire() as conn, conn.transaction():
                index_key = await _index_key(conn, f'"{schema}".personal_data_keys', wrapper)
        except asyncpg.UndefinedTableError:
            raise SchemaBehind(f"schema {schema!r} has no personal_data_keys table: run "
                               "'saylau migrate'") from None
        return cls(pool, wrapper, schema, index_key, **options)  # type: ignore[arg-type]

    def keyring(self) -> Keyring:
        return Keyring(self.index_key)

    async def save(self, issued: Iterable[DataKey],
                   conn: asyncpg.Connection | None = None) -> None:
        """Store newly issued keys, wrapped, in one statement (before the event is appended).
        Refused (MasterKeyError) once the master key was rotated under this process: a key
        wrapped by the old master key would not open after the restart."""
        rows = [(k.key_id, self.wrapper.wrap(k.dek), k.blind_index) for k in issued]
        if not rows:
            return
        query = (f"INSERT INTO {self.table} (key_id, wrapped_key, wrapped_by, blind_index) "
                 "SELECT k, w, $4, b FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS t(k, w, b) "
                 f"WHERE EXISTS (SELECT 1 FROM {self.table} WHERE key_id = $5 AND wrapped_by = $4)")
        args = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                self.wrapper.key_id, INDEX_KEY_ID)
        done = await (conn or self.pool).execute(query, *args)
        if done.split()[-1] == "0":
            raise MasterKeyError(f"the stored keys are no longer wrapped by {self.wrapper.key_id}"
                                 ": the master key was rotated; restart with the new key")

    async def load(self, key_ids: Iterable[str]) -> dict[str, bytes | None]:
        """Data keys by id; ``None`` for an erased (or never stored) key."""
        wanted, found, now = set(key_ids), {}, time.monotonic()
        for key_id in wanted:
            hit = self._cache.get(key_id)
            if hit is not None and now - hit[0] < self._ttl:
                self._cache.move_to_end(key_id)
                found[key_id] = hit[1]
        missing = sorted(wanted - found.keys())
        if missing:
            rows = await self.pool.fetch(f"SELECT key_id, wrapped_key FROM {self.table} "
                                         "WHERE key_id = ANY($1::text[])", missing)
            stored = {r["key_id"]: r["wrapped_key"] for r in rows}
            for key_id in missing:
                blob = stored.get(key_id)
                found[key_id] = None if blob is None else self.wrapper.unwrap(blob)
                self._remember(key_id, found[key_id], now)
        return found

    async def fill(self, keyring: Keyring, key_ids: Iterable[str]) -> Keyring:
        keyring.keys.update(await self.load(key_ids))
        return keyring

    async def find_keys(self, name: str) -> list[str]:
        """Ids of the live data keys of values that name this person (this spelling)."""
        rows = await self.pool.fetch(f"SELECT key_id FROM {self.table} WHERE blind_index = $1 "
                                     "AND erased_at IS NULL ORDER BY key_id",
                                     blind_index(self.index_key, name))
        return [r["key_id"] for r in rows]

    async def erase(self, names: Iterable[str]) -> int:
        """Destroy the data keys of every value naming one of ``names``, and their blind
        index (so not even "this name was here" can be confirmed); how many."""
        indexes = [blind_index(self.index_key, n) for n in names]
        rows = await self.pool.fetch(
            f"UPDATE {self.table} SET wrapped_key = NULL, blind_index = NULL, "
            "erased_at = now() "
            "WHERE blind_index = ANY($1::bytea[]) AND erased_at IS NULL RETURNING key_id", indexes)
        for row in rows:
            self._cache.pop(row["key_id"], None)
        return len(rows)

    async def rotate(self, new: KeyWrapper) -> int:
        """Re-wrap every live key (and the index key) under ``new`` in one transaction;
        the log is untouched. Returns how many data keys were re-wrapped."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(f"SELECT key_id, wrapped_key FROM {self.table} "
                                    "WHERE wrapped_key IS NOT NULL FOR UPDATE")
            rewrapped = [new.wrap(self.wrapper.unwrap(r["wrapped_key"])) for r in rows]
            await conn.execute(
                f"UPDATE {self.table} AS k SET wrapped_key = t.w, wrapped_by = $3 "
                "FROM unnest($1::text[], $2::bytea[]) AS t(id, w) WHERE k.key_id = t.id",
                [r["key_id"] for r in rows], rewrapped, new.key_id)
        self.wrapper = new
        return sum(1 for r in rows if r["key_id"] != INDEX_KEY_ID)

    def _remember(self, key_id: str, dek: bytes | None, now: float) -> None:
        self._cache[key_id] = (now, dek)
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


async def _index_key(conn: asyncpg.Connection, table: str, wrapper: KeyWrapper) -> bytes:
    row = await conn.fetchrow(f"SELECT wrapped_key, wrapped_by FROM {table} WHERE key_id = $1",
                              INDEX_KEY_ID)
    if row is not None:
        if row["wrapped_by"] != wrapper.key_id:
            raise MasterKeyError(f"the stored personal-data keys are wrapped by "
                                 f"{row['wrapped_by']}, not by the configured master key "
                                 f"{wrapper.key_id}: the master key is wrong or lost")
        return wrapper.unwrap(row["wrapped_key"])
    index_key = (wrapper.derive() if isinstance(wrapper, LocalMasterKey)
                 else os.urandom(32))
    await conn.execute(f"INSERT INTO {table} (key_id, wrapped_key, wrapped_by) "
                       "VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                       INDEX_KEY_ID, wrapper.wrap(index_key), wrapper.key_id)
    return await _index_key(conn, table, wrapper)


async def key_store(pool: asyncpg.Pool, cfg: Settings) -> PostgresKeyStore:
    """The store of the configured master key, checked: call at service startup, so a
    missing, lost or wrong master key stops the service with a clear error."""
    wrapper = load_master_key(cfg.saylau_master_key, cfg.saylau_master_key_file)
    return await PostgresKeyStore.open(pool, wrapper, cfg.ingest_schema)
