"""The Kafka broker stops while partners keep posting: 503 + Retry-After, never a false 202.

Partners do what the 503 tells them: retry later with the same event. Once the broker is
back, every event is in the read models exactly once.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import detention, unique
from tests.faults.conftest import PrivateKafka
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = 5.0
PARTNERS = 4


@dataclass
class Answer:
    event: dict[str, Any]
    started: float
    ended: float
    status: int
    retry_after: str | None


@pytest.fixture
def kafka_stack(private_kafka: PrivateKafka) -> Iterator[Stack]:
    stack = Stack(extra_env={"KAFKA_BOOTSTRAP": private_kafka.bootstrap,
                             "BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"})
    try:
        yield stack.start()
    finally:
        stack.stop()


def post(stack: Stack, event: dict[str, Any]) -> Answer:
    started = time.monotonic()
    try:
        reply = stack.post(event)
        status, retry_after = reply.status_code, reply.headers.get("retry-after")
    except httpx.TimeoutException:
        status, retry_after = 0, None
    return Answer(event, started, time.monotonic(), status, retry_after)


def keep_posting(stack: Stack, city: str, seconds: float) -> list[Answer]:
    """Each partner posts new events one after another for ``seconds``."""
    def partner(_: int) -> list[Answer]:
        answers, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            answers.append(post(stack, detention(city, 1 + len(answers) % 5)))
        return answers

    with ThreadPoolExecutor(PARTNERS) as pool:
        return [a for answers in pool.map(partner, range(PARTNERS)) for a in answers]


def test_broker_stopped_means_503_then_everything_acknowledged_is_counted(
        private_kafka: PrivateKafka, kafka_stack: Stack) -> None:
    stack, city = kafka_stack, unique()
    before = [post(stack, detention(city, 2)) for _ in range(10)]
    assert {a.status for a in before} == {202}

    private_kafka.stop()
    stopped_at = time.monotonic()
    during = keep_posting(stack, city, OUTAGE_SECONDS)
    restarting_at = time.monotonic()
    private_kafka.start()

    while_down = [a for a in during if a.started >= stopped_at and a.ended <= restarting_at]
    assert while_down, "no request ran entirely while the broker was down"
    assert {a.status for a in while_down} == {503}, [a.status for a in while_down]
    assert all(a.retry_after and int(a.retry_after) > 0 for a in while_down)
    assert max(a.ended - a.started for a in while_down) < 15  # bounded by the ack timeout

    retried = [retry_until_accepted(stack, a.event) for a in during if a.status != 202]
    after = [post(stack, detention(city, 3)) for _ in range(10)]
    assert {a.status for a in after} == {202}
    counted = before + [a for a in during if a.status == 202] + retried + after
    expected = sum(a.event["payload"]["count"] for a in counted)
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == expected,
               45, 0.5)


def retry_until_accepted(stack: Stack, event: dict[str, Any]) -> Answer:
    """What a partner does with a 503: the same event again, until 202 (or 200 duplicate)."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        answer = post(stack, event)
        if answer.status in (200, 202):
            return answer
        time.sleep(float(answer.retry_after or 1))
    raise AssertionError(f"event {event['event_id']} never accepted after the broker returned")
