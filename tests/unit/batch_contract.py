"""The batch transaction's contract, whatever store it writes to (eventsourcing style: one
abstract test class, a subclass per store: the in-memory fake here, PostgreSQL in
``tests/e2e/test_batch_transaction_pg.py``)."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from functools import cache
from typing import Any

import orjson
import pytest

from saylau.catalogue import catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.log.decode import Message
from saylau.readmodels.base import Batch
from saylau.readmodels.transaction import LogRewound, Projection, ProjectionStore
from tests.factories import detention, envelope, stuffing

RECEIVED = "2021-01-10T12:00:00+06:00"


def message(offset: int, event: dict[str, Any], partition: int = 0) -> Message:
    """``event`` as the log holds it, at ``offset`` of ``partition``."""
    record = {**event, "received_at": RECEIVED, "partner": "contract-test"}
    return Message(partition, offset, orjson.dumps(record))


@cache
def projection() -> Projection:
    """The projection under test (its catalogue and calendars load once)."""
    return Projection("contract", "contract.events", catalogue(), Calendars.load(), RuleConfig())


class Broken(Exception):
    """A write that fails after it began (a lost connection, a bug)."""


class FailingAfter:
    """A store whose ``step`` raises after it has done its work."""

    def __init__(self, inner: ProjectionStore, step: str) -> None:
        self.inner, self.step = inner, step

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, batch: Batch) -> None:
        await self.inner.write(batch)
        if self.step == "write":
            raise Broken("write")

    async def save_offsets(self, nexts: dict[int, int],
                           heads: dict[int, str | None] | None = None) -> None:
        await self.inner.save_offsets(nexts, heads)
        if self.step == "save_offsets":
            raise Broken("save_offsets")


class BatchTransactionContract(ABC):
    """What ``Projection.apply_to`` promises: exactly-once effects, all or nothing."""

    @abstractmethod
    async def stored_event_ids(self, store: Any) -> set[uuid.UUID]: ...

    @abstractmethod
    async def detained(self, store: Any) -> int:
        """People detained according to the detentions read model."""

    @abstractmethod
    async def offsets(self, store: Any) -> dict[int, int]: ...

    @abstractmethod
    async def regions(self, store: Any) -> dict[uuid.UUID, str | None]:
        """The stored events' regions (the ``events.region`` column)."""

    def batch(self) -> tuple[list[Message], set[uuid.UUID]]:
        events = [detention("Almaty", 3), detention("Almaty", 4)]
        return ([message(i, e) for i, e in enumerate(events)],
                {uuid.UUID(e["event_id"]) for e in events})

    async def test_the_same_batch_twice_has_one_effect(self, store: Any) -> None:
        batch, ids = self.batch()
        first = await projection().apply_to(store, batch)
        again = await projection().apply_to(store, batch)
        assert (first.applied, again.applied, again.skipped) == (2, 0, 2)
        assert await self.stored_event_ids(store) == ids
        assert await self.detained(store) == 7

    async def test_records_below_the_stored_offsets_are_refused_before_any_write_when_asked(
            self, store: Any) -> None:
        batch, _ = self.batch()
        await projection().apply_to(store, batch)
        rewound = [message(1, detention("Almaty", 5)), message(2, detention("Almaty", 6))]
        with pytest.raises(LogRewound, match="partition 0 from offset 1"):
            await projection().apply_to(store, rewound, rewound_ok=False)
        assert await self.detained(store) == 7 and await self.offsets(store) == {0: 2}
        result = await projection().apply_to(store, rewound, rewound_ok=True)
        assert (result.skipped, result.applied) == (1, 1)
        assert await self.detained(store) == 13

    async def test_a_duplicate_at_a_later_offset_counts_once(self, store: Any) -> None:
        batch, _ = self.batch()
        await projection().apply_to(store, batch)
        resent = Message(0, 2, batch[0].value)  # a partner retried after a lost 202
        result = await projection().apply_to(store, [resent])
        assert (result.applied, result.duplicates) == (0, 1)
        assert await self.detained(store) == 7 and await self.offsets(store) == {0: 3}

    async def test_offsets_are_written_with_the_rows(self, store: Any) -> None:
        batch, ids = self.batch()
        await projection().apply_to(store, batch)
        assert await self.offsets(store) == {0: 2}
        assert await self.stored_event_ids(store) == ids

    @pytest.mark.parametrize("step", ["write", "save_offsets"])
    async def test_a_failing_step_leaves_nothing_half_written(self, store: Any,
                                                              step: str) -> None:
        batch, ids = self.batch()
        with pytest.raises(Broken):
            await projection().apply_to(FailingAfter(store, step), batch)
        assert await self.stored_event_ids(store) == set()
        assert await self.detained(store) == 0 and await self.offsets(store) == {}
        assert (await projection().apply_to(store, batch)).applied == 2
        assert await self.stored_event_ids(store) == ids and await self.detained(store) == 7

    async def test_a_station_registered_in_an_earlier_batch_places_its_later_reports(
            self, store: Any) -> None:
        registered = envelope("station.registered", {"number": 1, "address": "School 1", "region": "Aktobe",
                                                     "registered_voters": 900},
                              station_id="PS-contract")
        observed = stuffing("PS-contract", place={"region": "Atyrau"})
        await projection().apply_to(store, [message(0, registered)])
        await projection().apply_to(store, [message(1, observed)])
        assert (await self.regions(store))[uuid.UUID(observed["event_id"])] == "Aktobe"
