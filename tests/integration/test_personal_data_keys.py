"""The data-key store: one contract run against the in-memory fake and PostgreSQL (a fresh
schema per test), plus what only PostgreSQL can show (rows at rest, startup checks)."""
from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import orjson
import pytest

from saylau.catalogue import Catalogue
from saylau.privacy.erasure import ErasureRequest, erase
from saylau.privacy.keys import KeyWrapper, LocalMasterKey, MasterKeyError
from saylau.privacy.sealing import decrypt_personal, encrypt_personal, sealed_key_ids
from saylau.privacy.store import PostgresKeyStore, PurgeIncomplete
from saylau.settings import settings
from saylau.store.migrations import SchemaBehind, upgrade
from tests.fake_keys import InMemoryKeyStore

pytestmark = pytest.mark.integration
CAT = Catalogue()
MASTER = LocalMasterKey(os.urandom(32))


@dataclass
class Harness:
    store: Any
    reopen: Callable[[KeyWrapper], Awaitable[Any]]
    """A second store over the same rows (no shared cache), as another process sees them."""


@pytest.fixture
async def pool() -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A pool and a fresh ingest schema, migrated as ``saylau migrate`` migrates it."""
    schema = f"privacy_{uuid4().hex[:12]}"
    async with asyncpg.create_pool(settings().dsn, min_size=1, max_size=3) as created:
        await upgrade(settings().dsn, schema)
        yield created, schema
        await created.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["memory", "postgres"])
async def keys(request: pytest.FixtureRequest,
               pool: tuple[asyncpg.Pool, str]) -> AsyncIterator[Harness]:
    if request.param == "memory":
        memory = InMemoryKeyStore(MASTER, os.urandom(32))

        async def same(wrapper: KeyWrapper) -> InMemoryKeyStore:
            assert wrapper.key_id == memory.wrapper.key_id
            return memory
        yield Harness(memory, same)
        return
    yield Harness(await PostgresKeyStore.open(pool[0], MASTER, pool[1]),
                  lambda wrapper: PostgresKeyStore.open(pool[0], wrapper, pool[1]))


async def detention(store: Any, names: list[str]) -> tuple[str, dict]:
    keyring, event_id = store.keyring(), str(uuid4())
    payload = {"count": len(names), "persons": [{"name": n, "role": "observer"} for n in names]}
    sealed = encrypt_personal("detention.reported", payload, keyring, event_id=event_id,
                              version=2, cat=CAT)
    await store.save(keyring.issued)
    return event_id, sealed


async def opened(store: Any, event_id: str, sealed: dict) -> list[str]:
    keyring = await store.fill(store.keyring(),
                               sealed_key_ids("detention.reported", sealed, 2, cat=CAT))
    payload = decrypt_personal("detention.reported", sealed, keyring, event_id=event_id,
                               version=2, cat=CAT)
    return [p["name"] for p in payload["persons"]]


async def erased(store: Any, names: list[str]) -> int:
    """Erase ``names`` (the record appended at once); how many values."""
    async def append(event: dict[str, Any]) -> str:
        return "accepted"
    request = ErasureRequest("admin", datetime.now(UTC), tuple(names))
    return (await erase(store, request, (), append)).values


def key_of(sealed: dict, index: int) -> str:
    return sealed["persons"][index]["name"].split(":")[2]


async def test_saved_keys_read_back_and_are_found_by_name(keys: Harness) -> None:
    event_id, sealed = await detention(keys.store, ["Zhanat Reimov", "Жанат Реимов"])
    other = await keys.reopen(MASTER)
    assert await opened(other, event_id, sealed) == ["Zhanat Reimov", "Жанат Реимов"]
    assert await other.find_keys("  zhanat REIMOV ") == [key_of(sealed, 0)]
    assert await other.find_keys("Жанат реимов") == [key_of(sealed, 1)]
    assert await other.find_keys("Nobody") == []


async def test_erase_destroys_every_key_of_that_name_only(keys: Harness) -> None:
    first = await detention(keys.store, ["Zhanat Reimov", "Arsen Zhumagaliev"])
    second = await detention(keys.store, ["zhanat reimov"])
    assert await opened(keys.store, *first) == ["Zhanat Reimov", "Arsen Zhumagaliev"]  # cached
    assert await erased(keys.store, ["Zhanat Reimov"]) == 2
    for reader in (keys.store, await keys.reopen(MASTER)):
        assert await opened(reader, *first) == ["[erased]", "Arsen Zhumagaliev"]
        assert await opened(reader, *second) == ["[erased]"]
    assert await keys.store.find_keys("Zhanat Reimov") == []
    assert await erased(keys.store, ["Zhanat Reimov"]) == 0


async def test_rotation_rewraps_keys_and_leaves_events_alone(keys: Harness) -> None:
    event_id, sealed = await detention(keys.store, ["Zhanat Reimov"])
    await detention(keys.store, ["Arsen Zhumagaliev"])
    await erased(keys.store, ["Arsen Zhumagaliev"])
    before = orjson.dumps(sealed)
    new = LocalMasterKey(os.urandom(32))
    assert await keys.store.rotate(new) == 1  # the erased key stays erased
    reopened = await keys.reopen(new)
    assert await opened(reopened, event_id, sealed) == ["Zhanat Reimov"]
    assert orjson.dumps(sealed) == before
    assert await reopened.find_keys("Zhanat Reimov") == [key_of(sealed, 0)]


async def test_rows_at_rest_hold_no_name_and_rotation_changes_every_blob(
        pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    await detention(store, ["Zhanat Reimov", "Жанат Реимов"])
    table = f'"{pool[1]}".personal_data_keys'
    dump = await pool[0].fetch(f"SELECT * FROM {table}")
    assert len(dump) == 3  # two data keys and the index key
    raw = orjson.dumps([dict(r) for r in dump], default=bytes.hex)
    assert b"Zhanat" not in raw and "Жанат".encode() not in raw
    old = {r["key_id"]: r["wrapped_key"] for r in dump}
    new = LocalMasterKey(os.urandom(32))
    await store.rotate(new)
    rows = await pool[0].fetch(f"SELECT key_id, wrapped_key, wrapped_by FROM {table}")
    assert {r["wrapped_by"] for r in rows} == {new.key_id}
    assert all(old[r["key_id"]] != r["wrapped_key"] for r in rows)
    assert (await PostgresKeyStore.open(pool[0], new, pool[1])).index_key == store.index_key
    await erased(store, ["Zhanat Reimov"])
    assert len(await pool[0].fetch(f"SELECT * FROM {table}")) == 2  # the row is deleted


async def test_a_wrong_or_old_master_key_fails_at_startup(pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    with pytest.raises(MasterKeyError, match="not by the configured master key"):
        await PostgresKeyStore.open(pool[0], LocalMasterKey(os.urandom(32)), pool[1])
    stale = await PostgresKeyStore.open(pool[0], MASTER, pool[1])  # e.g. a running ingest
    await store.rotate(LocalMasterKey(os.urandom(32)))
    with pytest.raises(MasterKeyError, match="wrong or lost"):
        await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    with pytest.raises(MasterKeyError, match="rotated"):  # never a key the new one cannot open
        await detention(stale, ["Zhanat Reimov"])
    await detention(store, ["Zhanat Reimov"])


async def test_the_store_opens_the_migrated_table_and_creates_none() -> None:
    """The table's one home is the migrations: a schema never migrated is refused, not
    given a table outside them."""
    schema = f"privacy_{uuid4().hex[:12]}"
    async with asyncpg.create_pool(settings().dsn, min_size=1, max_size=2) as unmigrated:
        await unmigrated.execute(f'CREATE SCHEMA "{schema}"')
        try:
            with pytest.raises(SchemaBehind, match="run 'saylau migrate'"):
                await PostgresKeyStore.open(unmigrated, MASTER, schema)
            assert await unmigrated.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                schema) == 0
        finally:
            await unmigrated.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def stored_bytes(pool: asyncpg.Pool, table: str) -> bytes:
    """Every byte of the key table's files and its indexes' as PostgreSQL keeps them on disk
    (after a checkpoint): what a copy of the data directory would hold."""
    await pool.execute("CHECKPOINT")
    paths = await pool.fetch(
        "SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c WHERE c.oid = $1::regclass "
        "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass)", table)
    return b"".join([await pool.fetchval("SELECT pg_read_binary_file($1)", p["path"])
                     for p in paths])


async def test_an_erased_key_is_gone_from_the_database_files(
        pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    _, sealed = await detention(store, ["Zhanat Reimov", "Arsen Zhumagaliev"])
    table = f'"{pool[1]}".personal_data_keys'
    gone, kept = [await pool[0].fetchrow(f"SELECT wrapped_key, blind_index FROM {table} "
                                           "WHERE key_id = $1", key_of(sealed, i))
                    for i in (0, 1)]
    on_disk = await stored_bytes(pool[0], table)
    assert gone["wrapped_key"] in on_disk and gone["blind_index"] in on_disk  # it can see
    await erased(store, ["Zhanat Reimov"])
    on_disk = await stored_bytes(pool[0], table)
    assert gone["wrapped_key"] not in on_disk and gone["blind_index"] not in on_disk
    assert kept["wrapped_key"] in on_disk


async def test_a_transaction_older_than_the_erasure_holds_the_key_until_it_ends(
        pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    _, sealed = await detention(store, ["Zhanat Reimov"])
    table = f'"{pool[1]}".personal_data_keys'
    wrapped = await pool[0].fetchval(f"SELECT wrapped_key FROM {table} WHERE key_id = $1",
                                     key_of(sealed, 0))
    async with pool[0].acquire() as older:
        reading = older.transaction(isolation="repeatable_read")
        await reading.start()
        await older.fetchval("SELECT count(*) FROM pg_class")  # a snapshot that sees the key
        store.purge = functools.partial(PostgresKeyStore.purge, store, patience=1.0)
        with pytest.raises(PurgeIncomplete, match="1 old row version"):
            await erased(store, ["Zhanat Reimov"])
        assert wrapped in await stored_bytes(pool[0], table)
        await reading.rollback()
    await PostgresKeyStore.purge(store)
    assert wrapped not in await stored_bytes(pool[0], table)
    assert await store.pending_erasures() != []  # its record waits for the next run
