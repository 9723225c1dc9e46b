"""Data keys in PostgreSQL, wrapped by the master key; erased by deleting the key.

The table (``saylau.store.db.personal_data_keys``, on the one MetaData) lives in the ingest
schema: it is not a read model and is never replayed. Its one home is the ingest schema's
migrations (``saylau migrate``, or a service starting with MIGRATE_ON_START); the store
only opens it. PostgreSQL keeps a deleted or updated row's old version in the table's pages
until they are rewritten (a plain ``VACUUM`` frees the space but may leave the bytes), so an
erasure ends with ``purge``: ``VACUUM FULL`` writes the table and its indexes anew, without
the destroyed keys, and drops the old files.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from saylau.privacy.erasure import PendingErasure
from saylau.privacy.keys import KeyWrapper, LocalMasterKey, MasterKeyError, load_master_key
from saylau.privacy.sealing import DataKey, Keyring, blind_index
from saylau.settings import Settings
from saylau.store.migrations import SchemaBehind

INDEX_KEY_ID = "index:v1"
"""The row holding the blind-index key, wrapped like a data key so rotation keeps it."""
PURGE_LOCK_TIMEOUT, PURGE_ATTEMPTS = "5s", 3
"""``VACUUM FULL`` waits at most this long for its lock (meanwhile new key inserts queue
behind it), then tries again, a few times."""
PURGE_PATIENCE = 60.0
"""Seconds to wait for transactions older than an erasure to end (see ``purge``)."""
KEPT_DEAD = re.compile(r"(\d+) dead row versions cannot be removed yet")
"""What ``VACUUM (FULL, VERBOSE)`` says of the row versions an older snapshot still holds."""


class PurgeIncomplete(RuntimeError):
    """Destroyed keys still sit in the key table's pages: a transaction that began before
    the erasure (or a replication slot, or a prepared transaction) may still see them."""

    def __init__(self, kept: int) -> None:
        super().__init__(f"{kept} old row version(s) of destroyed keys are still held by a "
                         "transaction older than the erasure (see pg_stat_activity, "
                         "pg_replication_slots, pg_prepared_xacts)")
        self.kept = kept


class PostgresKeyStore:
    """Create, fetch (LRU-cached for ``ttl`` seconds: an erasure reaches every api process
    within that time, like a key revocation), erase and re-wrap data keys."""

    def __init__(self, pool: asyncpg.Pool, wrapper: KeyWrapper, schema: str,
                 index_key: bytes, cache_size: int = 50_000, ttl: float = 2.0) -> None:
        self.pool, self.wrapper, self.index_key = pool, wrapper, index_key
        self.table = f'"{schema}".personal_data_keys'
        self.erasures = f'"{schema}".personal_data_erasures'
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
                                     "AND wrapped_key IS NOT NULL ORDER BY key_id",
                                     blind_index(self.index_key, name))
        return [r["key_id"] for r in rows]

    async def destroy(self, names: Iterable[str], key_ids: Iterable[str], request: bytes,
                      record: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """In one transaction: delete the data keys of every value naming one of ``names``
        (blind index, deleted with the key, so not even "this name was here" can be
        confirmed) and of ``key_ids``, and keep ``record(how many)``, the event to append,
        as pending. Returns that event."""
        indexes = [blind_index(self.index_key, n) for n in names]
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"DELETE FROM {self.table} WHERE key_id <> $3 AND wrapped_key IS NOT NULL "
                "AND (blind_index = ANY($1::bytea[]) OR key_id = ANY($2::text[])) "
                "RETURNING key_id", indexes, sorted(set(key_ids)), INDEX_KEY_ID)
            event = record(len(rows))
            await conn.execute(f"INSERT INTO {self.erasures} (event_id, request, event) "
                               "VALUES ($1, $2, $3)", UUID(event["event_id"]), request,
                               orjson.dumps(event).decode())
        for row in rows:
            self._cache.pop(row["key_id"], None)
        return event

    async def pending_erasures(self) -> list[PendingErasure]:
        """Erasures carried out whose event is not in the log yet, oldest first."""
        rows = await self.pool.fetch(f"SELECT request, event FROM {self.erasures} "
                                     "ORDER BY erased_at, event_id")
        return [PendingErasure(r["request"], orjson.loads(r["event"])) for r in rows]

    async def erasure_recorded(self, event_id: str) -> None:
        """The log holds the event of this erasure (or it records nothing new): forget it."""
        await self.pool.execute(f"DELETE FROM {self.erasures} WHERE event_id = $1",
                                UUID(event_id))

    async def purge(self, patience: float = PURGE_PATIENCE) -> None:
        """Rewrite the key table and its indexes (``VACUUM FULL``) so that no page of the
        live database keeps a destroyed key or blind index. Holds an exclusive lock on the
        table while it runs (new keys wait). A row version a transaction older than the
        erasure may still see is copied, not dropped: then wait for such transactions to end
        and rewrite again, for up to ``patience`` seconds, else raise ``PurgeIncomplete``."""
        deadline, pause = time.monotonic() + patience, 0.25
        while (kept := await self._vacuum_full()) and time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
        if kept:
            raise PurgeIncomplete(kept)

    async def _vacuum_full(self) -> int:
        """One ``VACUUM FULL`` (a few tries for its lock); how many dead row versions it kept."""
        said: list[str] = []
        for attempt in range(1, PURGE_ATTEMPTS + 1):
            async with self.pool.acquire() as conn:
                def heard(_: object, message: asyncpg.PostgresLogMessage) -> None:
                    said.append(message.detail or "")
                conn.add_log_listener(heard)
                try:
                    await conn.execute(f"SET lock_timeout = '{PURGE_LOCK_TIMEOUT}'")
                    await conn.execute(f"VACUUM (FULL, VERBOSE) {self.table}")
                    return sum(int(n) for d in said for n in KEPT_DEAD.findall(d))
                except asyncpg.LockNotAvailableError:
                    if attempt == PURGE_ATTEMPTS:
                        raise
                finally:
                    conn.remove_log_listener(heard)
                    await conn.execute("RESET lock_timeout")
            await asyncio.sleep(attempt)
        return 0

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
