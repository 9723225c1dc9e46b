"""End to end: HTTP in → Kafka → faust projector → PostgreSQL → HTTP out."""
from __future__ import annotations

import asyncio

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from saylau.log.chain import link, record_hash
from saylau.settings import Settings
from tests.factories import access_denied, detention, release, stuffing, unique
from tests.stack import Stack, wait_until


def test_accepted_event_is_in_kafka_with_hashes(stack: Stack) -> None:
    event = detention(unique(), 70)
    reply = stack.post(event)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["status"] == "accepted" and body["event_id"] == event["event_id"]
    record = asyncio.run(read_record(stack, body["partition"], body["offset"]))
    assert record["event_id"] == event["event_id"]
    assert record["partner"] == "tester" and record["payload"] == {"count": 70}
    assert len(record["content_hash"]) == 64 and record["chain"]["hash"]
    assert record["chain"]["hash"] == link(record["chain"]["prev"], record_hash(record))


async def read_record(stack: Stack, partition: int, offset: int) -> dict[str, object]:
    consumer = AIOKafkaConsumer(bootstrap_servers=Settings().kafka_bootstrap,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(f"{stack.name}.events", partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        message = await asyncio.wait_for(consumer.getone(), 20)
        return orjson.loads(message.value)  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


def test_detentions_counted_per_city(stack: Stack) -> None:
    city = unique()
    for event in (detention(city, 70), detention(city, 30), release(city, 12)):
        assert stack.post(event).status_code == 202
    expected = {"region": "Almaty", "city": city, "detained_total": 100,
                "released_total": 12, "detained_now": 88}
    wait_until(lambda: stack.detentions_in(city) == expected)


def test_duplicate_is_recognised_and_not_counted(stack: Stack) -> None:
    city = unique()
    event = detention(city, 5)
    assert stack.post(event).status_code == 202
    again = stack.post(event)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert stack.post(detention(city, 1)).status_code == 202
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 6)


def test_concurrent_posts_of_one_id_are_one_202_and_the_rest_200(stack: Stack) -> None:
    """Group commit: 16 simultaneous POSTs of one event, interleaved with other events on
    the same connections pool; one is accepted, every other copy is a duplicate."""
    city = unique()
    event = detention(city, 3)
    others = [detention(city, 1) for _ in range(16)]

    async def burst() -> list[tuple[str, int]]:
        headers = {"Authorization": f"Bearer {stack.writer_key}"}
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=stack.ingest_url, headers=headers,
                                     timeout=30, limits=limits) as client:
            async def post(item: dict[str, object]) -> tuple[str, int]:
                reply = await client.post("/v1/events", json=item)
                return str(item["event_id"]), reply.status_code
            return await asyncio.gather(*(post(item) for pair in zip(
                [event] * 16, others, strict=True) for item in pair))

    codes = asyncio.run(burst())
    same = [code for eid, code in codes if eid == event["event_id"]]
    assert sorted(same) == [200] * 15 + [202], same
    assert [code for eid, code in codes if eid != event["event_id"]] == [202] * 16
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 19)


def test_same_id_other_content_is_a_conflict(stack: Stack) -> None:
    event = detention(unique(), 5)
    assert stack.post(event).status_code == 202
    reply = stack.post({**event, "payload": {"count": 50}})
    assert reply.status_code == 409
    assert reply.json()["detail"][0]["loc"] == ["event_id"]


def test_station_incidents(stack: Stack) -> None:
    station = unique("PS")
    for event in (access_denied(station), access_denied(station), stuffing(station)):
        assert stack.post(event).status_code == 202
    found = wait_until(lambda: (r := stack.get(f"/v1/stations/{station}")).status_code == 200
                       and r.json()["total"] == 3 and r.json())
    assert found["incidents"] == {"ballot.stuffing_observed": 1, "observer.access_denied": 2}
    assert found["last_event_at"].startswith("2021-01-10T05:20:00")


def test_batch_reports_each_item(stack: Stack) -> None:
    city = unique()
    good, bad = detention(city, 3), detention(city, 0)
    reply = stack.post_batch([good, bad, good])
    assert reply.status_code == 200, reply.text
    statuses = [r["status"] for r in reply.json()["results"]]
    assert statuses == ["accepted", "rejected", "duplicate"]
    assert reply.json()["results"][1]["errors"][0]["loc"] == ["payload", "count"]
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 3)


def test_event_shown_exactly_as_appended(stack: Stack) -> None:
    event = access_denied(unique("PS"))
    assert stack.post(event).status_code == 202
    shown = wait_until(lambda: (r := stack.get(f"/v1/events/{event['event_id']}")).status_code
                       == 200 and r.json())
    record = shown["record"]
    assert {k: record[k] for k in event} == event
    assert record["content_hash"] and record["chain"]["hash"]
