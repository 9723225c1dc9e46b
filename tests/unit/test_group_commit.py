"""Group commit on fakes: concurrent requests share flushes, results go back to their own
request, failures reach every request of their group, a duplicate inside a group is seen.

Deterministic: a test waits for the state it needs (a flush started, requests queued) and
holds a flush with a gate, instead of counting the loop turns the code takes to get there;
the acknowledgement deadline is measured on an event loop whose clock is virtual."""
from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from saylau.intake.group import GroupCommit
from saylau.intake.log import ACK_TIMEOUT_SECONDS
from saylau.intake.outcome import Unavailable
from tests.factories import detention
from tests.unit.test_intake import FakePool, FakeProducer, intake

TURNS = 1000
"""Loop turns after which a state the test waits for is taken never to come (a bound on a
failure only: the wait ends as soon as the state holds)."""
HANG = 30.0
"""The same bound, in seconds, for a request that should be answered."""


async def until(state: Callable[[], bool], what: str) -> None:
    """Let the other tasks run until ``state()`` holds."""
    for _ in range(TURNS):
        if state():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


class HeldFirstFlush:
    """A flush that records its groups, answers ten times each item, and holds the first
    group until ``gate`` opens (it is in flight while the others queue)."""

    def __init__(self) -> None:
        self.flushed: list[list[int]] = []
        self.gate = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int]:
        self.flushed.append(items)
        if len(self.flushed) == 1:
            await self.gate.wait()
        return [i * 10 for i in items]

    async def started(self, n: int) -> None:
        await until(lambda: len(self.flushed) >= n, f"flush {n} started")


async def test_requests_arriving_during_a_flush_go_together_in_the_next() -> None:
    flush = HeldFirstFlush()
    group: GroupCommit[int, int] = GroupCommit(flush)
    first = asyncio.create_task(group.submit(1))
    await flush.started(1)
    rest = [asyncio.create_task(group.submit(i)) for i in range(2, 7)]
    await until(lambda: len(group.queue) == 5, "five requests queued behind the flush")
    assert len(group.flushers) == 1
    flush.gate.set()
    assert await first == 10
    assert [await r for r in rest] == [20, 30, 40, 50, 60]
    assert flush.flushed == [[1], [2, 3, 4, 5, 6]]
    assert group.groups == 2


async def test_a_further_flush_starts_only_once_spill_items_wait() -> None:
    flush = HeldFirstFlush()
    group: GroupCommit[int, int] = GroupCommit(flush, concurrency=3, spill=3)
    tasks = [asyncio.create_task(group.submit(1))]
    await flush.started(1)
    tasks += [asyncio.create_task(group.submit(i)) for i in (2, 3)]
    await until(lambda: len(group.queue) == 2, "two requests queued")
    assert flush.flushed == [[1]] and len(group.flushers) == 1  # two waiting: they wait for it
    tasks.append(asyncio.create_task(group.submit(4)))
    await flush.started(2)
    assert flush.flushed == [[1], [2, 3, 4]]  # the third waiting starts a second flush beside it
    flush.gate.set()
    assert [await t for t in tasks] == [10, 20, 30, 40]


async def test_a_request_right_after_the_last_flush_ended_starts_one() -> None:
    async def flush(items: list[int]) -> list[int]:
        await asyncio.sleep(0)
        return items

    for group in (GroupCommit(flush), GroupCommit(flush, concurrency=3, spill=16)):
        assert [await asyncio.wait_for(group.submit(i), HANG) for i in range(3)] == [0, 1, 2]
        assert group.groups == 3 and not group.flushers


async def test_a_group_is_capped_by_size_and_keeps_whole_requests() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        await asyncio.sleep(0)
        return items

    group: GroupCommit[int, int] = GroupCommit(flush, size=lambda n: n, max_items=10)
    results = await asyncio.gather(*(group.submit(n) for n in (4, 5, 6, 20, 1)))
    assert results == [4, 5, 6, 20, 1]
    assert flushed == [[4, 5], [6], [20], [1]]  # an oversized request still goes, alone


async def test_a_failed_flush_fails_each_of_its_requests_and_the_next_group_runs() -> None:
    calls = 0

    async def flush(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise OSError("database gone")
        return items

    group: GroupCommit[str, str] = GroupCommit(flush)
    a, b = group.submit("a"), group.submit("b")
    results = await asyncio.gather(a, b, return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert await group.submit("c") == "c"


async def test_concurrent_requests_share_one_lookup_one_insert_and_one_202_per_id() -> None:
    pool, producer = FakePool(), FakeProducer()
    service = intake(pool, producer)
    same = detention("Oral", 2)
    others = [detention("Aktobe", 1) for _ in range(5)]
    answers = await asyncio.gather(*(service.submit([item], "hotline")
                                     for item in [same, *others, same, same]))
    codes = [a[0].code for a in answers]
    assert codes == [202] * 6 + [200, 200]
    assert len(producer.sent) == 6
    assert len(pool.statements) == 2  # one lookup, one insert for all eight requests
    assert service.group.groups == 1
    again = await service.submit([same], "hotline")
    assert again[0].code == 200 and len(producer.sent) == 6


async def test_a_copy_in_the_same_group_follows_its_first_when_not_acknowledged() -> None:
    class Refusing(FakeProducer):
        def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[object]:
            failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            failed.set_exception(OSError("broker down"))
            return failed

    pool = FakePool()
    service = intake(pool, Refusing())
    same = detention("Oral", 2)
    answers = await asyncio.gather(*(service.submit([same], "hotline") for _ in range(3)))
    assert [a[0].code for a in answers] == [503, 503, 503]
    assert pool.hashes == {}


async def test_nothing_to_append_costs_no_query_and_a_dead_database_fails_the_group() -> None:
    pool = FakePool()
    service = intake(pool, FakeProducer())
    refused = await service.submit([{"type": "nonsense"}], "hotline")
    assert refused[0].code == 422 and pool.statements == []
    pool.down = True
    results = await asyncio.gather(*(service.submit([detention("Oral", 1)], "hotline")
                                     for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) for r in results)
    with pytest.raises(Unavailable):
        await service.submit([detention("Oral", 1)], "hotline")


async def test_a_group_holding_an_id_another_running_group_holds_waits_for_it() -> None:
    class Slow(FakeProducer):
        gate = asyncio.Event()

        def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[object]:
            acked = super().acknowledge(partition, values)
            later: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._release(later, acked.result()))
            return later

        async def _release(self, later: asyncio.Future[object], meta: object) -> None:
            await self.gate.wait()
            later.set_result(meta)

    pool, producer = FakePool(), Slow()
    service = intake(pool, producer)
    service.group.spill = 1  # groups overlap as under a load past SPILL
    same = detention("Oral", 2)
    first = asyncio.create_task(service.submit([same, detention("Oral", 1)], "hotline"))
    while not producer.sent:  # the first group is waiting for its acknowledgements
        await asyncio.sleep(0)
    second = asyncio.create_task(service.submit([same], "hotline"))
    await until(lambda: service.group.groups == 2, "the second group started")
    assert not second.done()
    producer.gate.set()
    assert [o.code for o in await first] == [202, 202]
    assert [o.code for o in await second] == [200]
    assert len(producer.sent) == 2 and service.inflight == {}


def on_virtual_time(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``body`` on an event loop whose clock moves only when every task waits: to the
    next timer at once, so timeouts are exact and never depend on the machine's speed."""
    now = [0.0]

    class Skipping(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
        def select(self, timeout: float | None = None) -> list[Any]:
            ready = super().select(0)
            if ready:
                return ready
            if timeout is None:  # no timer at all: only I/O can wake the loop
                return super().select(None)
            now[0] += max(timeout, 0.0)
            return []

    loop = asyncio.SelectorEventLoop(Skipping())
    loop.time = lambda: now[0]  # type: ignore[method-assign]
    try:
        loop.run_until_complete(body())
    finally:
        loop.close()


def test_waiting_behind_other_groups_never_prolongs_the_ack_timeout() -> None:
    """Requests queued behind groups in flight get their 503 ``ACK_TIMEOUT_SECONDS`` after
    they were submitted, not after their group started."""
    class Silent(FakeProducer):  # a broker that never acknowledges
        def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[object]:
            self.sent += values
            return asyncio.get_running_loop().create_future()

    async def body() -> None:
        service = intake(FakePool(), Silent())
        service.group.spill = 1  # groups overlap as under a load past SPILL
        loop = asyncio.get_running_loop()

        async def timed() -> tuple[int, float]:
            started = loop.time()
            outcome = (await service.submit([detention("Oral", 1)], "hotline"))[0]
            return outcome.code, loop.time() - started

        early = []
        for _ in range(3):  # three groups in flight, each waiting for its acknowledgements
            early.append(asyncio.create_task(timed()))
            await asyncio.sleep(0.05)
        assert len(service.group.flushers) == 3 and not any(t.done() for t in early)
        late = await asyncio.gather(*(timed() for _ in range(4)))  # queued behind them
        assert {code for code, _ in late} == {503}
        assert [took for _, took in late] == [pytest.approx(ACK_TIMEOUT_SECONDS)] * 4, late
        assert await asyncio.gather(*early) == [
            (503, pytest.approx(ACK_TIMEOUT_SECONDS))] * 3

    on_virtual_time(body)
