"""Poison on the log: dead-lettered with the reason, the projector goes on, replay after a fix.

The "fix" is the everyday one: ingest already accepts a new event type while the projector
still runs the previous release (here: a catalogue without ``detention.released``). Its
reports are dead letters until the projector is upgraded; then the admin replays them.
"""
from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from saylau.catalogue import SCHEMA_DIR
from saylau.log.kafka import partition_for
from saylau.settings import Settings
from tests.factories import detention, release, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
FAST_REJOIN = {"BROKER_SESSION_TIMEOUT": "8", "BROKER_HEARTBEAT_INTERVAL": "1"}


@pytest.fixture
def old_release_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose projector does not know ``detention.released`` yet."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, schemas)
    (schemas / "detention.released.v1.json").unlink()
    stack = Stack(extra_env={"EVENT_SCHEMA_DIR": str(schemas), **FAST_REJOIN})
    try:
        yield stack.start()
    finally:
        stack.stop()


def test_poison_goes_to_the_dead_letters_and_replays_after_the_fix(
        old_release_stack: Stack) -> None:
    stack, city = old_release_stack, unique()
    partition = partition_for(f"Almaty/{city}", stack.partitions)
    assert stack.post(detention(city, 10)).status_code == 202
    asyncio.run(produce(stack, partition, [b"\xff\xfe{not json", impossible_detention(city)]))
    assert stack.post(release(city, 4)).status_code == 202  # unknown to this projector
    assert stack.post(detention(city, 1)).status_code == 202  # after the poison: counted
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 11, 60)

    dead = wait_until(lambda: len(rows := dead_letters(stack)) == 3 and rows, 30)
    assert all(d["status"] == "dead" and d["partition"] == partition for d in dead)
    assert_reasons([d["reason"] for d in dead])
    published = asyncio.run(read_topic(f"{stack.name}.dlq", 3))
    assert_reasons([dict(m.headers)["reason"].decode() for m in published])
    assert published[0].value == b"\xff\xfe{not json"  # the raw bytes, unchanged

    assert admin_post(stack, {"all": True}, stack.reader_key).status_code == 403
    upgrade_projector(stack)
    reply = admin_post(stack, {"all": True})
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["replayed"]) == 3
    wait_until(lambda: (c := stack.detentions_in(city)) and c["released_total"] == 4, 60)
    assert stack.detentions_in(city)["detained_total"] == 11  # nothing counted twice
    after = wait_until(lambda: len(rows := dead_letters(stack)) == 5 and rows, 30)
    assert sorted(d["status"] for d in after) == ["dead", "dead", "replayed", "replayed",
                                                  "replayed"]
    again = admin_post(stack, {"dead_letters": [{"partition": partition,
                                                 "offset": dead[0]["offset"]}]})
    assert again.json() == {"replayed": [], "not_replayable": [
        {"partition": partition, "offset": dead[0]["offset"],
         "msg": "no dead letter there, or already replayed"}]}


def impossible_detention(city: str) -> bytes:
    """Valid JSON in the stored-record shape, but a negative number of detained people."""
    record = {**detention(city, 1), "payload": {"count": -5}, "partner": "intruder",
              "received_at": datetime.now(UTC).isoformat()}
    return orjson.dumps(record)


def assert_reasons(reasons: list[str]) -> None:
    assert any(r.startswith("not JSON") for r in reasons), reasons
    assert any("payload" in r and "count" in r for r in reasons), reasons
    assert any("unknown event type 'detention.released'" in r for r in reasons), reasons


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    reply = httpx.get(f"{stack.api_url}/v1/admin/dead-letters", timeout=10,
                      headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert reply.status_code == 200, reply.text
    return reply.json()["dead_letters"]  # type: ignore[no-any-return]


def admin_post(stack: Stack, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return httpx.post(f"{stack.api_url}/v1/admin/dead-letters/replay", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key or stack.writer_key}"})


def upgrade_projector(stack: Stack) -> None:
    stack.kill("projector", signal.SIGTERM)
    del stack.env["EVENT_SCHEMA_DIR"]
    stack.start_projector()


async def produce(stack: Stack, partition: int, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=Settings().kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(f"{stack.name}.events", value, partition=partition)
    finally:
        await producer.stop()


async def read_topic(topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=Settings().kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        return [await asyncio.wait_for(consumer.getone(), 30) for _ in range(count)]
    finally:
        await consumer.stop()
