"""The projector's pipeline: the next batch is decoded while the current one is written, and a
batch is acknowledged to faust only once applied, in order."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from saylau.audit.replay import READ_BY_WRITES, deferred_indexes
from saylau.log.decode import Message
from saylau.store.ddl import READ, ddl
from services.projector.pipeline import Pipeline


@dataclass
class FakeEvent:
    """A faust event as the pipeline sees it: only ``.message``."""

    message: Message


def batch(start: int, n: int = 3) -> list[FakeEvent]:
    return [FakeEvent(Message(0, o, b"{}")) for o in range(start, start + n)]


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.acked: list[int] = []
        self.release = asyncio.Event()

    def decode(self, messages: Any) -> dict[tuple[int, int], Any]:
        self.log.append(("decoded", messages[0].offset))
        return {(m.partition, m.offset): "event" for m in messages}

    async def apply(self, messages: list[Message], decoded: dict[tuple[int, int], Any]) -> None:
        assert set(decoded) == {(m.partition, m.offset) for m in messages}
        self.log.append(("applying", messages[0].offset))
        await self.release.wait()
        self.log.append(("applied", messages[0].offset))

    async def ack(self, event: FakeEvent) -> None:
        self.acked.append(event.message.offset)


async def drained(pipeline: Pipeline) -> None:
    """Every batch put was decoded and applied."""
    await pipeline.to_decode.join()
    await pipeline.to_apply.join()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_next_batch_is_decoded_while_the_current_one_is_written() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        pipeline = Pipeline(rec.decode, rec.apply, rec.ack)
        await pipeline.put(batch(0))
        await pipeline.put(batch(3))
        await settle()
        assert sorted(rec.log) == [("applying", 0), ("decoded", 0), ("decoded", 3)]
        assert rec.acked == []  # nothing acknowledged before its transaction ends
        rec.release.set()
        await asyncio.wait_for(drained(pipeline), 5)
        await pipeline.stop()
        return rec

    rec = asyncio.run(scenario())
    assert rec.log[-3:] == [("applied", 0), ("applying", 3), ("applied", 3)]
    assert rec.acked == [0, 1, 2, 3, 4, 5]


def test_stopping_leaves_unapplied_batches_unacknowledged() -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        pipeline = Pipeline(rec.decode, rec.apply, rec.ack)
        await pipeline.put(batch(0))
        await pipeline.put(batch(3))
        await settle()
        await pipeline.stop()
        return rec

    rec = asyncio.run(scenario())
    assert rec.acked == []
    assert ("applied", 0) not in rec.log


def test_replay_schema_leaves_out_only_indexes_no_write_reads() -> None:
    deferred = deferred_indexes()
    assert deferred and not deferred & READ_BY_WRITES
    full, bulk = "\n".join(ddl("s", READ)), "\n".join(ddl("s", READ, deferred))
    assert all(name in full and name not in bulk for name in deferred)
    assert all(name in bulk for name in READ_BY_WRITES)


def test_batches_decoded_during_a_transaction_are_applied_together_in_order() -> None:
    async def scenario() -> tuple[Recorder, list[list[int]]]:
        rec, applied = Recorder(), []
        first = asyncio.Event()

        async def apply(messages: list[Message], decoded: dict[tuple[int, int], Any]) -> None:
            assert set(decoded) == {(m.partition, m.offset) for m in messages}
            applied.append([m.offset for m in messages])
            if len(applied) == 1:
                await first.wait()

        pipeline = Pipeline(rec.decode, apply, rec.ack)
        for start in (0, 3, 6, 9):
            await pipeline.put(batch(start))
        await settle()
        assert applied == [[0, 1, 2]] and rec.acked == []
        first.set()
        await asyncio.wait_for(drained(pipeline), 5)
        await pipeline.stop()
        return rec, applied

    rec, applied = asyncio.run(scenario())
    assert applied == [[0, 1, 2], list(range(3, 12))]  # one transaction for what waited
    assert rec.acked == list(range(12))


def test_a_transaction_takes_at_most_max_events() -> None:
    async def scenario() -> list[int]:
        rec, sizes = Recorder(), []
        gate = asyncio.Event()

        async def apply(messages: list[Message], decoded: dict[tuple[int, int], Any]) -> None:
            sizes.append(len(messages))
            if len(sizes) == 1:
                await gate.wait()

        pipeline = Pipeline(rec.decode, apply, rec.ack, max_events=6)
        for start in range(0, 15, 3):
            await pipeline.put(batch(start))
        await settle()
        gate.set()
        await asyncio.wait_for(drained(pipeline), 5)
        await pipeline.stop()
        assert rec.acked == list(range(15))
        return sizes

    assert asyncio.run(scenario()) == [3, 6, 6]
