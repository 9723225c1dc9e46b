"""The batch transaction's contract against the in-memory store."""
from __future__ import annotations

import uuid

import pytest

from tests.unit.batch_contract import BatchTransactionContract
from tests.unit.fake_store import InMemoryProjectionStore


class TestInMemoryBatchTransaction(BatchTransactionContract):
    @pytest.fixture
    def store(self) -> InMemoryProjectionStore:
        return InMemoryProjectionStore()

    async def stored_event_ids(self, store: InMemoryProjectionStore) -> set[uuid.UUID]:
        return set(store.state.events)

    async def detained(self, store: InMemoryProjectionStore) -> int:
        return sum(totals[0] for rows in store.state.folds.get("detentions", [])
                   for totals in rows.city_detentions.values())

    async def offsets(self, store: InMemoryProjectionStore) -> dict[int, int]:
        return {p: n for p, n in store.state.offsets.items() if n}

    async def regions(self, store: InMemoryProjectionStore) -> dict[uuid.UUID, str | None]:
        return {i: region for i, (_, _, region) in store.state.events.items()}
