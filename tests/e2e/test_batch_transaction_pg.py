"""The batch transaction's contract against PostgreSQL (a throw-away read schema)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from saylau.readmodels.postgres import PostgresProjectionStore
from tests.projection_store import throwaway_store
from tests.unit.batch_contract import BatchTransactionContract, projection


class TestPostgresBatchTransaction(BatchTransactionContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[PostgresProjectionStore]:
        async with throwaway_store("tbatch_", projection().topic) as store:
            yield store

    async def stored_event_ids(self, store: PostgresProjectionStore) -> set[uuid.UUID]:
        rows = await store.conn.fetch(f'SELECT event_id FROM "{store.schema}".events')
        return {r["event_id"] for r in rows}

    async def detained(self, store: PostgresProjectionStore) -> int:
        return int(await store.conn.fetchval(
            f'SELECT COALESCE(sum(detained_total), 0) FROM "{store.schema}".city_detentions'))

    async def offsets(self, store: PostgresProjectionStore) -> dict[int, int]:
        rows = await store.conn.fetch(
            f'SELECT kafka_partition, next_offset FROM "{store.schema}".projector_offsets '
            "WHERE next_offset > 0")
        return {r["kafka_partition"]: r["next_offset"] for r in rows}

    async def regions(self, store: PostgresProjectionStore) -> dict[uuid.UUID, str | None]:
        rows = await store.conn.fetch(f'SELECT event_id, region FROM "{store.schema}".events')
        return {r["event_id"]: r["region"] for r in rows}
