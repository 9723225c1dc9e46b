"""Group commit on fakes: concurrent requests share flushes, results go back to their own
request, failures reach every request of their group, a duplicate inside a group is seen."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from saylau.intake.group import GroupCommit
from saylau.intake.outcome import Unavailable
from tests.factories import detention
from tests.unit.test_intake import FakePool, FakeProducer, intake


def held_first_flush() -> tuple[list[list[int]], asyncio.Event,
                                Callable[[list[int]], Awaitable[list[int]]]]:
    """A flush that records its groups, answers ten times each item, and holds the first
    group until the gate opens (it is in flight while the others queue)."""
    flushed: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        if len(flushed) == 1:
            await gate.wait()
        return [i * 10 for i in items]
    return flushed, gate, flush


async def test_requests_arriving_during_a_flush_go_together_in_the_next() -> None:
    flushed, gate, flush = held_first_flush()
    group: GroupCommit[int, int] = GroupCommit(flush)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert [await r for r in rest] == [20, 30, 40, 50, 60]
    assert flushed == [[1], [2, 3, 4, 5, 6]]
    assert group.groups == 2


async def test_a_further_flush_starts_only_once_spill_items_wait() -> None:
    flushed, gate, flush = held_first_flush()
    group: GroupCommit[int, int] = GroupCommit(flush, concurrency=3, spill=3)
    tasks = [asyncio.create_task(group.submit(1))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(group.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    assert flushed == [[1]] and len(group.flushers) == 1  # two waiting: they wait for it
    tasks.append(asyncio.create_task(group.submit(4)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert flushed == [[1], [2, 3, 4]]  # the third waiting starts a second flush beside it
    gate.set()
    assert [await t for t in tasks] == [10, 20, 30, 40]


async def test_a_request_right_after_the_last_flush_ended_starts_one() -> None:
    async def flush(items: list[int]) -> list[int]:
        await asyncio.sleep(0)
        return items

    for group in (GroupCommit(flush), GroupCommit(flush, concurrency=3, spill=16)):
        assert [await asyncio.wait_for(group.submit(i), 1) for i in range(3)] == [0, 1, 2]
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
    for _ in range(5):
        await asyncio.sleep(0)
    assert service.group.groups == 2 and not second.done()
    producer.gate.set()
    assert [o.code for o in await first] == [202, 202]
    assert [o.code for o in await second] == [200]
    assert len(producer.sent) == 2 and service.inflight == {}


async def test_waiting_behind_other_groups_never_prolongs_the_ack_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Silent(FakeProducer):  # a broker that never acknowledges
        def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[object]:
            self.sent += values
            return asyncio.get_running_loop().create_future()

    monkeypatch.setattr("saylau.intake.service.ACK_TIMEOUT_SECONDS", 0.3)
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
    assert max(took for _, took in late) < 0.45, late
    assert {code for code, _ in await asyncio.gather(*early)} == {503}
