"""The projector SIGKILLed mid-stream, again and again: afterwards every count is exact."""
from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import access_denied, detention, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
FAST_REJOIN = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}
BATCHES, BATCH_SIZE, KILLS = 20, 100, 3


@pytest.fixture
def crash_stack() -> Iterator[Stack]:
    stack = Stack(extra_env=FAST_REJOIN)
    try:
        yield stack.start()
    finally:
        stack.stop()


def kill_points() -> list[int]:
    """After how many posted batches each kill comes: evenly through the stream."""
    return [(n + 1) * BATCHES // (KILLS + 1) for n in range(KILLS)]


class Partner(threading.Thread):
    """Posts batches and keeps what was accepted (202) per city and per station.

    One batch past each kill point it waits until that kill happened, so every kill lands
    while reports are still arriving however fast this machine posts (the batch before the
    wait is what the projector is working on when it dies; the ones after it arrive while
    it restarts).
    """

    def __init__(self, stack: Stack, batches: list[list[dict[str, Any]]]) -> None:
        super().__init__(daemon=True)
        self.stack, self.batches, self.posted = stack, batches, 0
        self.detained: Counter[str] = Counter()
        self.incidents: Counter[str] = Counter()
        self.killed = [threading.Event() for _ in range(KILLS)]

    def run(self) -> None:
        gates = {point + 1: killed for point, killed in zip(kill_points(), self.killed)}
        for i, batch in enumerate(self.batches):
            if i in gates:
                gates[i].wait(120)
            results = self.stack.post_batch(batch).json()["results"]
            for event, result in zip(batch, results, strict=True):
                if result["code"] == 202:
                    self.count(event)
            self.posted += 1

    def count(self, event: dict[str, Any]) -> None:
        if event["type"] == "detention.reported":
            self.detained[event["place"]["city"]] += event["payload"]["count"]
        else:
            self.incidents[event["station_id"]] += 1


def mixed_batches(cities: list[str], stations: list[str]) -> list[list[dict[str, Any]]]:
    rng = random.Random(7)
    events = [detention(rng.choice(cities), rng.randint(1, 9)) if i % 3 else
              access_denied(rng.choice(stations)) for i in range(BATCHES * BATCH_SIZE)]
    batches = [events[i:i + BATCH_SIZE] for i in range(0, len(events), BATCH_SIZE)]
    return batches + [batches[3]]  # a partner re-sends a whole batch after a timeout


def test_projector_killed_repeatedly_loses_and_doubles_nothing(crash_stack: Stack) -> None:
    stack = crash_stack
    cities, stations = [unique() for _ in range(12)], [unique("PS") for _ in range(8)]
    partner = Partner(stack, mixed_batches(cities, stations))
    partner.start()
    killed_mid_stream = 0
    for n, point in enumerate(kill_points()):
        wait_until(lambda point=point: partner.posted >= point, 60)
        time.sleep(random.uniform(0.05, 0.4))
        running = stack.procs["projector"][-1]
        assert running.poll() is None, "the projector died before it was killed"
        pending = partner.is_alive()
        stack.kill("projector", signal.SIGKILL)
        assert running.returncode == -signal.SIGKILL  # it was running, and the kill ended it
        killed_mid_stream += pending
        partner.killed[n].set()
        stack.start_projector()
    partner.join(120)
    assert killed_mid_stream == KILLS, "some kills came after the partner stopped posting"
    assert sum(partner.detained.values()) and sum(partner.incidents.values())

    def exact() -> bool:
        cities_now = {c["city"]: c["detained_total"] for c in stack.get("/v1/detentions")
                      .json()["cities"] if c["city"] in partner.detained}
        return cities_now == dict(partner.detained)

    def stations_exact() -> bool:  # keyed by station: may land after the cities
        return all(stack.get(f"/v1/stations/{station}").json()["total"] == expected
                   for station, expected in partner.incidents.items())

    wait_until(exact, 60, 0.5)
    wait_until(stations_exact, 60, 0.5)
    for station, expected in partner.incidents.items():
        assert stack.get(f"/v1/stations/{station}").json()["total"] == expected
    assert stack.procs["projector"][-1].poll() is None  # the last restart keeps running
