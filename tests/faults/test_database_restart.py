"""PostgreSQL restarted under load: 503 (fast) while it is away, exact counts once it is back."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.ingest.routes.events import MAX_BATCH
from tests.factories import detention, unique
from tests.faults.conftest import PrivatePostgres
from tests.stack import Stack, free_port, wait_until

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = 6.0


@pytest.fixture
def db_stack(private_postgres: PrivatePostgres) -> Iterator[Stack]:
    stack = Stack(extra_env={"DATABASE_URL": private_postgres.url,
                             "PROJECTOR_METRICS_PORT": str(free_port()),
                             "BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"})
    try:
        yield stack.start()
    finally:
        stack.stop()


class Partner(threading.Thread):
    """Posts batches until told to stop; re-sends what got 503, as Retry-After asks."""

    def __init__(self, stack: Stack, city: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.city = stack, city
        self.accepted: dict[str, int] = {}  # event id -> count, for 202 and 200 (duplicate)
        self.unavailable = 0
        self.done = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.post_until_done()
        except BaseException as exc:  # seen by the test, not lost with the thread
            self.failure = exc
            raise

    def post_until_done(self) -> None:
        pending: list[dict[str, Any]] = []
        while not (self.done.is_set() and not pending):
            if not self.done.is_set() and len(pending) + 50 <= MAX_BATCH:  # a long outage
                pending += [detention(self.city, 1 + i % 4) for i in range(50)]  # fills one
            pending = self.post(pending)
            if pending:
                time.sleep(0.5)

    def post(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post ``events``; the ones to send again."""
        try:
            reply = self.stack.post_batch(events)
        except httpx.HTTPError:
            return events
        if reply.status_code == 503:
            assert reply.headers["retry-after"]
            self.unavailable += 1
            return events
        assert reply.status_code == 200, reply.text
        again = []
        for event, result in zip(events, reply.json()["results"], strict=True):
            if result["code"] in (200, 202):
                self.accepted[event["event_id"]] = event["payload"]["count"]
            else:
                assert result["code"] == 503, result
                again.append(event)
        return again


def timed_get(url: str, key: str) -> tuple[int, float]:
    started = time.monotonic()
    reply = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return reply.status_code, time.monotonic() - started


def test_database_restart_under_load(private_postgres: PrivatePostgres, db_stack: Stack) -> None:
    stack, city = db_stack, unique()
    projector = f"http://127.0.0.1:{stack.env['PROJECTOR_METRICS_PORT']}"
    wait_until(lambda: httpx.get(f"{projector}/readyz").status_code == 200, 90)
    partner = Partner(stack, city)
    partner.start()
    wait_until(lambda: len(partner.accepted) >= 200, 30)

    private_postgres.stop()
    down_until = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < down_until:
        for path in ("/v1/detentions", "/readyz"):
            status, seconds = timed_get(f"{stack.api_url}{path}", stack.reader_key)
            assert (status, seconds < 6) == (503, True), (path, status, seconds)
        assert httpx.get(f"{projector}/readyz", timeout=10).status_code == 503
        assert httpx.get(f"{projector}/healthz", timeout=10).status_code == 200
        time.sleep(0.5)
    private_postgres.start()

    wait_until(lambda: partner.failure or (partner.unavailable and len(partner.accepted) >= 600),
               40)
    assert partner.failure is None, partner.failure
    partner.done.set()
    partner.join(60)
    assert partner.failure is None and not partner.is_alive(), partner.failure
    expected = sum(partner.accepted.values())
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == expected,
               45, 0.5)
    wait_until(lambda: httpx.get(f"{projector}/readyz").status_code == 200, 30)
    wait_until(lambda: httpx.get(f"{stack.api_url}/readyz").status_code == 200, 30)
