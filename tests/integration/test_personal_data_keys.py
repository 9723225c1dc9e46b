"""The data-key store against the real PostgreSQL: one fresh schema per test."""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import orjson
import pytest

from saylau.catalogue import Catalogue
from saylau.privacy.erasure import erase
from saylau.privacy.keys import LocalMasterKey, MasterKeyError
from saylau.privacy.sealing import decrypt_personal, encrypt_personal, sealed_key_ids
from saylau.privacy.store import PostgresKeyStore
from saylau.settings import settings

pytestmark = pytest.mark.integration
CAT = Catalogue()
MASTER = LocalMasterKey(os.urandom(32))


@pytest.fixture
async def pool() -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    schema = f"privacy_{uuid4().hex[:12]}"
    async with asyncpg.create_pool(settings().dsn, min_size=1, max_size=3) as created:
        yield created, schema
        await created.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def detention(store: PostgresKeyStore, names: list[str]) -> tuple[str, dict]:
    keyring, event_id = store.keyring(), str(uuid4())
    payload = {"count": len(names), "persons": [{"name": n, "role": "observer"} for n in names]}
    sealed = encrypt_personal("detention.reported", payload, keyring, event_id=event_id,
                              version=2, cat=CAT)
    await store.save(keyring.issued)
    return event_id, sealed


async def opened(store: PostgresKeyStore, event_id: str, sealed: dict) -> list[str]:
    keyring = await store.fill(store.keyring(),
                               sealed_key_ids("detention.reported", sealed, 2, cat=CAT))
    payload = decrypt_personal("detention.reported", sealed, keyring, event_id=event_id,
                               version=2, cat=CAT)
    return [p["name"] for p in payload["persons"]]


async def test_keys_are_stored_wrapped_and_read_back(pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    event_id, sealed = await detention(store, ["Zhanat Reimov", "Жанат Реимов"])
    fresh = await PostgresKeyStore.open(pool[0], MASTER, pool[1])  # no cache, same index key
    assert fresh.index_key == store.index_key
    assert await opened(fresh, event_id, sealed) == ["Zhanat Reimov", "Жанат Реимов"]
    dump = await pool[0].fetch(f'SELECT * FROM "{pool[1]}".personal_data_keys')
    assert len(dump) == 3  # two data keys and the index key
    raw = orjson.dumps([dict(r) for r in dump], default=bytes.hex)
    assert b"Zhanat" not in raw and "Жанат".encode() not in raw
    assert await fresh.find_keys("  zhanat REIMOV ") == [
        sealed_key_ids("detention.reported", {"persons": [sealed["persons"][0]]}, 2,
                       cat=CAT).pop()]


async def test_erase_destroys_every_key_of_that_name_only(pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    first = await detention(store, ["Zhanat Reimov", "Arsen Zhumagaliev"])
    second = await detention(store, ["zhanat reimov"])
    assert await opened(store, *first) == ["Zhanat Reimov", "Arsen Zhumagaliev"]  # cached now
    from datetime import UTC, datetime
    payload = await erase(store, ["Zhanat Reimov"], "admin", datetime.now(UTC))
    assert payload["values"] == 2 and "Zhanat" not in orjson.dumps(payload).decode()
    for reader in (store, await PostgresKeyStore.open(pool[0], MASTER, pool[1])):
        assert await opened(reader, *first) == ["[erased]", "Arsen Zhumagaliev"]
        assert await opened(reader, *second) == ["[erased]"]
    assert await store.find_keys("Zhanat Reimov") == []
    erased = await pool[0].fetch(f'SELECT wrapped_key, blind_index FROM "{pool[1]}".'
                                 "personal_data_keys WHERE erased_at IS NOT NULL")
    assert len(erased) == 2
    assert all(r["wrapped_key"] is None and r["blind_index"] is None for r in erased)
    assert (await erase(store, ["Zhanat Reimov"], "admin", datetime.now(UTC)))["values"] == 0


async def test_rotation_rewraps_keys_and_leaves_events_alone(
        pool: tuple[asyncpg.Pool, str]) -> None:
    store = await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    event_id, sealed = await detention(store, ["Zhanat Reimov"])
    before = orjson.dumps(sealed)
    table = f'"{pool[1]}".personal_data_keys'
    old_blobs = {r["key_id"]: r["wrapped_key"] for r in await pool[0].fetch(
        f"SELECT key_id, wrapped_key FROM {table}")}
    new = LocalMasterKey(os.urandom(32))
    assert await store.rotate(new) == 2
    rows = await pool[0].fetch(f"SELECT key_id, wrapped_key, wrapped_by FROM {table}")
    assert {r["wrapped_by"] for r in rows} == {new.key_id}
    assert all(old_blobs[r["key_id"]] != r["wrapped_key"] for r in rows)
    reopened = await PostgresKeyStore.open(pool[0], new, pool[1])
    assert reopened.index_key == store.index_key
    assert await opened(reopened, event_id, sealed) == ["Zhanat Reimov"]
    assert orjson.dumps(sealed) == before
    assert await reopened.find_keys("Zhanat Reimov")
    with pytest.raises(MasterKeyError, match="wrong or lost"):
        await PostgresKeyStore.open(pool[0], MASTER, pool[1])


async def test_a_wrong_master_key_fails_at_startup(pool: tuple[asyncpg.Pool, str]) -> None:
    await PostgresKeyStore.open(pool[0], MASTER, pool[1])
    with pytest.raises(MasterKeyError, match="not by the configured master key"):
        await PostgresKeyStore.open(pool[0], LocalMasterKey(os.urandom(32)), pool[1])
