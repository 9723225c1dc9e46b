"""``InMemoryKeyStore``: the data-key store as a dict, for tests of code that uses keys (the
contract it shares with ``PostgresKeyStore``: tests/integration/test_personal_data_keys.py)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from saylau.privacy.erasure import PendingErasure
from saylau.privacy.keys import KeyWrapper
from saylau.privacy.sealing import DataKey, Keyring, blind_index


@dataclass
class StoredKey:
    wrapped_key: bytes | None
    wrapped_by: str
    blind_index: bytes | None


class InMemoryKeyStore:
    """Same contract as ``PostgresKeyStore`` (save, load, fill, find_keys, destroy, the
    pending erasures, purge, rotate)."""

    def __init__(self, wrapper: KeyWrapper, index_key: bytes) -> None:
        self.wrapper, self.index_key = wrapper, index_key
        self.rows: dict[str, StoredKey] = {}
        self.pending: dict[str, PendingErasure] = {}
        self.purged = 0

    def keyring(self) -> Keyring:
        return Keyring(self.index_key)

    async def save(self, issued: Iterable[DataKey], conn: object = None) -> None:
        for key in issued:
            self.rows[key.key_id] = StoredKey(self.wrapper.wrap(key.dek), self.wrapper.key_id,
                                              key.blind_index)

    async def load(self, key_ids: Iterable[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for key_id in key_ids:
            row = self.rows.get(key_id)
            blob = row.wrapped_key if row else None
            found[key_id] = None if blob is None else self.wrapper.unwrap(blob)
        return found

    async def fill(self, keyring: Keyring, key_ids: Iterable[str]) -> Keyring:
        keyring.keys.update(await self.load(key_ids))
        return keyring

    async def find_keys(self, name: str) -> list[str]:
        wanted = blind_index(self.index_key, name)
        return sorted(k for k, row in self.rows.items() if row.blind_index == wanted)

    async def destroy(self, names: Iterable[str], key_ids: Iterable[str], request: bytes,
                      record: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        wanted, ids = {blind_index(self.index_key, n) for n in names}, set(key_ids)
        hit = [k for k, row in self.rows.items() if row.blind_index in wanted or k in ids]
        for key_id in hit:
            del self.rows[key_id]
        event = record(len(hit))
        self.pending[event["event_id"]] = PendingErasure(request, event)
        return event

    async def pending_erasures(self) -> list[PendingErasure]:
        return list(self.pending.values())

    async def erasure_recorded(self, event_id: str) -> None:
        self.pending.pop(event_id, None)

    async def purge(self) -> None:
        self.purged += 1

    async def rotate(self, new: KeyWrapper) -> int:
        live = [row for row in self.rows.values() if row.wrapped_key is not None]
        for row in live:
            row.wrapped_key = new.wrap(self.wrapper.unwrap(row.wrapped_key))  # type: ignore[arg-type]
            row.wrapped_by = new.key_id
        self.wrapper = new
        return len(live)
