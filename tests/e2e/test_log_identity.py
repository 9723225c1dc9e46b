"""The projector reads only the log its read models came from (issues 13 item 3 and 20).

One private stack on the shared broker: a Kafka commit moved ahead of PostgreSQL skips
nothing; then the centre is pointed at a recreated topic (what a new cluster looks like):
ingest refuses its dedup table, and with a fresh dedup table the projector applies nothing
and both /readyz answer 503 naming the difference and what to do."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.factories import detention, unique
from tests.stack import HTTP, Stack, delete_topic, free_port, wait_until


@pytest.fixture
def centre() -> Iterator[Stack]:
    """A stack of each test's own: neither test depends on what the other did or ran."""
    running = Stack(partitions=3, extra_env={"PROJECTOR_METRICS_PORT": str(free_port())})
    running.start()
    yield running
    running.stop()


def projector_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.env['PROJECTOR_METRICS_PORT']}"


def detained(stack: Stack, city: str) -> int:
    found = stack.detentions_in(city)
    return int(found["detained_total"]) if found else 0


async def commit_to_end(stack: Stack) -> dict[int, int]:
    """Move the projector group's committed offsets to the end of every partition."""
    topic = stack.env["EVENTS_TOPIC"]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP"],
                                group_id=stack.env["PROJECTOR_GROUP"], enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


def test_a_kafka_commit_ahead_of_postgresql_skips_nothing(centre: Stack) -> None:
    city = unique()
    for _ in range(3):
        assert centre.post(detention(city, 1)).status_code == 202
    wait_until(lambda: detained(centre, city) == 3)
    centre.kill("projector", 15)  # leaves the group, so its offsets can be moved
    for _ in range(6):
        assert centre.post(detention(city, 1)).status_code == 202
    ends = asyncio.run(commit_to_end(centre))
    assert sum(ends.values()) >= 9
    centre.start_projector()
    wait_until(lambda: detained(centre, city) == 9, 90)  # the 6 past Kafka's commit too


def test_a_populated_centre_pointed_at_a_fresh_topic_refuses_it(centre: Stack) -> None:
    city = unique()
    for _ in range(4):
        assert centre.post(detention(city, 1)).status_code == 202
    wait_until(lambda: detained(centre, city) == 4)
    centre.kill("ingest", 15)
    centre.kill("projector", 15)
    asyncio.run(delete_topic(centre))  # same name, new topic id: a new cluster looks so

    # ingest: its dedup table belongs to the old log, so it refuses to start
    proc = centre._spawn("ingest", [*ingest_args(centre)])
    assert proc.wait(90) != 0
    logged = centre.log_of(proc).read_text()
    assert "accepted_events belongs to topic" in logged and "saylau migrate-log" in logged

    # with a fresh dedup table ingest runs (and creates the topic); the projector refuses
    centre.env["INGEST_SCHEMA"] = centre.env["INGEST_SCHEMA"] + "_fresh"
    centre.start_ingest()
    projector = centre.start_projector()
    for _ in range(5):
        assert centre.post(detention(city, 1)).status_code == 202

    def refused() -> dict[str, str]:
        body = httpx.get(f"{projector_url(centre)}/readyz").json()
        return body if any("log mismatch" in p for p in body["problems"]) else {}

    body = wait_until(refused, 90)
    reason = next(p for p in body["problems"] if "log mismatch" in p)
    assert "was recreated" in reason and "saylau replay" in reason and "KAFKA_BOOTSTRAP" in reason
    api = httpx.get(f"{centre.api_url}/readyz")
    assert api.status_code == 503 and "was recreated" in api.json()["detail"]
    metrics = httpx.get(f"{projector_url(centre)}/metrics").text
    assert any(line.startswith("saylau_projector_log_mismatch_total ") and
               float(line.split()[1]) >= 1 for line in metrics.splitlines())
    time.sleep(3)
    assert detained(centre, city) == 4  # nothing of the other log applied
    assert "projector refuses to apply anything" in centre.log_of(projector).read_text()


def ingest_args(stack: Stack) -> list[str]:
    import sys
    return [sys.executable, "-m", "uvicorn", "services.ingest.app:app",
            "--port", str(stack.ingest_port), "--no-access-log", "--http", HTTP]
