"""The intake service on fakes: one validation and one dedup per submission, channel
messages all or nothing, acknowledged events remembered."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from saylau.catalogue import catalogue
from saylau.envelope import content_hash, stored_envelope
from saylau.intake.log import ChainedLog
from saylau.intake.outcome import Unavailable
from saylau.intake.service import Intake
from saylau.privacy.keys import LocalMasterKey
from tests.factories import detention, envelope
from tests.fake_keys import InMemoryKeyStore


@dataclass
class Meta:
    partition: int
    offset: int


@dataclass
class FakeBatch:
    """aiokafka's ``BatchBuilder`` as ``ChainedLog`` uses it: full after ``capacity`` records
    (the first always fits), closed before it is sent."""

    capacity: int
    values: list[bytes] = field(default_factory=list)
    closed: bool = False

    def append(self, *, timestamp: float | None, key: bytes | None,
               value: bytes) -> int | None:
        if self.closed or len(self.values) >= self.capacity:
            return None
        self.values.append(value)
        return len(self.values) - 1

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeProducer:
    """Acknowledges each record batch at once; ``sent`` is every record value, in order."""

    sent: list[bytes] = field(default_factory=list)
    capacity: int = 1000
    batches: list[tuple[int, int]] = field(default_factory=list)
    """(partition, records) of each batch sent."""

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *,
                         partition: int) -> asyncio.Future[Any]:
        assert batch.closed, "a batch is closed before it is sent"
        self.batches.append((partition, len(batch.values)))
        return self.acknowledge(partition, batch.values)

    def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[Any]:
        """The batch's future: its base offset (here: the count of records sent before)."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(Meta(partition, len(self.sent)))
        self.sent += values
        return done


@dataclass
class FakePool:
    """accepted_events as a dict; every statement is recorded."""

    hashes: dict[Any, str] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    down: bool = False

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.down:
            raise OSError("connection refused")
        self.statements.append(sql)
        if "FROM accepted_events" in sql:
            return [{"event_id": i, "content_hash": self.hashes[i], "kafka_key": "k",
                     "station_id": None} for i in args[0] if i in self.hashes]
        return []

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(sql)
        if sql.startswith("INSERT INTO accepted_events"):
            self.hashes.update(zip(args[0], args[1], strict=True))
        return "INSERT"


def intake(pool: FakePool, producer: FakeProducer,
           keys: InMemoryKeyStore | None = None) -> Intake:
    keys = keys or InMemoryKeyStore(LocalMasterKey(bytes(32)), bytes(range(32)))
    return Intake(ChainedLog(producer, "events", 6), pool, catalogue(),  # type: ignore[arg-type]
                  keys)


async def test_submit_validates_dedups_and_appends_once_per_item() -> None:
    pool, producer = FakePool(), FakeProducer()
    good = detention("Oral", 3)
    bad = {**detention("Oral", 1), "payload": {"count": -1}}
    verified = envelope("report.verified", {"event_id": good["event_id"]})
    outcomes = await intake(pool, producer).submit([good, bad, verified, good], "hotline")
    assert [o.code for o in outcomes] == [202, 422, 403, 200]
    assert outcomes[1].errors[0].loc[:1] == ("payload",)
    assert len(producer.sent) == 1
    assert len(pool.statements) == 2  # one lookup (dedup, routing, stations), one insert


async def test_a_message_is_all_or_nothing_and_a_retry_is_a_duplicate() -> None:
    pool, producer = FakePool(), FakeProducer()
    service = intake(pool, producer)
    reports = [detention("Oral", 2), detention("Aktobe", 1)]
    broken = [reports[0], {**reports[1], "occurred_at": "yesterday"}]
    rejected = await service.submit_message(broken, "sms-gw")
    assert rejected.status == "rejected" and rejected.error
    assert producer.sent == [] and pool.statements == []  # nothing looked up, nothing sent
    assert (await service.submit_message(reports, "sms-gw")).status == "accepted"
    assert (await service.submit_message(reports, "sms-gw")).status == "duplicate"
    assert len(producer.sent) == 2


async def test_database_down_is_unavailable_and_nothing_is_sent() -> None:
    pool, producer = FakePool(down=True), FakeProducer()
    with pytest.raises(Unavailable, match="nothing was appended"):
        await intake(pool, producer).submit([detention("Oral", 1)], "hotline")
    assert producer.sent == []


async def test_names_are_sealed_before_hashing_and_a_resent_report_is_still_a_duplicate() -> None:
    pool, producer = FakePool(), FakeProducer()
    keys = InMemoryKeyStore(LocalMasterKey(bytes(32)), bytes(range(32)))
    service = intake(pool, producer, keys)
    named = {**detention("Oral", 1), "payload": {"count": 1, "persons": ["Жанат Реимов"]}}
    changed = {**named, "payload": {"count": 1, "persons": ["Someone Else"]}}
    outcomes = await service.submit([named, named], "hotline")
    again = await service.submit([named, changed], "hotline")
    assert [o.code for o in outcomes + again] == [202, 200, 200, 409]
    (sent,) = producer.sent
    assert "Жанат".encode() not in sent and b"enc:v1:" in sent
    record = orjson.loads(sent)
    assert record["content_hash"] == content_hash(stored_envelope(record))  # verify: no key
    assert await keys.find_keys("жанат  реимов")


async def test_only_admins_append_personal_data_erased() -> None:
    erased = envelope("personal_data.erased", {"requested_by": "a", "values": 1,
                                               "requested_at": "2026-11-30T12:00:00+00:00"})
    service = intake(FakePool(), FakeProducer())
    assert [o.code for o in await service.submit([erased], "ngo")] == [403]
    assert [o.code for o in await service.submit([erased], "ngo", frozenset({"admin"}))] == [202]


async def test_a_group_goes_to_the_log_as_record_batches_per_partition_in_chain_order() -> None:
    from saylau.log.chain import ChainVerifier
    from saylau.log.kafka import partition_for

    producer = FakeProducer(capacity=3)  # a batch fills after three records
    service = intake(FakePool(), producer)
    items = [detention(city, n) for n in (1, 2, 3, 4) for city in ("Oral", "Aktobe", "Taraz")]
    outcomes = await service.submit(items, "hotline")
    assert [o.code for o in outcomes] == [202] * 12
    partitions = {partition_for(f"place:Almaty/{c}", 6) for c in ("Oral", "Aktobe", "Taraz")}
    # as many batches per partition as its records need, never one send per record
    per_partition = {p: sum(n for q, n in producer.batches if q == p) for p in partitions}
    assert sum(per_partition.values()) == 12
    assert len(producer.batches) == sum(-(-n // 3) for n in per_partition.values())
    # each item's offset is its batch's base offset plus its place in the batch
    by_offset = {o.offset: o for o in outcomes}
    assert sorted(by_offset) == list(range(12))
    verifier = ChainVerifier()
    for offset, value in enumerate(producer.sent):
        record = orjson.loads(value)
        assert str(by_offset[offset].event_id) == record["event_id"]
        assert by_offset[offset].partition in partitions
        assert verifier.check(by_offset[offset].partition, offset, record) is None


async def test_a_refused_batch_fails_only_its_records_and_starts_a_new_chain() -> None:
    class RefusesFirst(FakeProducer):
        def acknowledge(self, partition: int, values: list[bytes]) -> asyncio.Future[Any]:
            if not self.batches[:-1]:  # the very first batch sent
                failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                failed.set_exception(OSError("not enough replicas"))
                return failed
            return super().acknowledge(partition, values)

    producer = RefusesFirst(capacity=2)
    service = intake(FakePool(), producer)
    outcomes = await service.submit([detention("Oral", n) for n in (1, 2, 3, 4, 5)], "hotline")
    assert [o.code for o in outcomes] == [503, 503, 202, 202, 202]
    chains = {orjson.loads(v)["chain"]["id"] for v in producer.sent}
    again = await service.submit([detention("Oral", 6)], "hotline")
    assert again[0].code == 202
    assert orjson.loads(producer.sent[-1])["chain"]["id"] not in chains  # a new chain
