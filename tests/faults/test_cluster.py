"""Three-node Kafka cluster (issue 13): brokers die while partners post and the projector runs.

The cluster is the project's own (`KAFKA_BROKERS=3 infra/kafka.sh`), private to this module
(own run directories, free ports), so the shared broker is never touched. Topics get
replication factor 3 and min.insync.replicas 2 from the settings defaults; ingest produces
with acks=all and idempotence. So a 202 means two brokers hold the record, and with two of
three down the broker refuses the write (ingest answers 503 + Retry-After).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from saylau.log.kafka import TopicFacts, describe_topic, end_offsets, log_facts
from tests.background import Background
from tests.factories import detention, unique
from tests.stack import DEFAULT_KAFKA, ROOT, Stack, free_port, wait_until

pytestmark = pytest.mark.slow
PARTNERS = 4


@dataclass
class Cluster:
    """KAFKA_BROKERS=3 through infra/kafka.sh, on free ports, in a directory of its own."""

    home: Path
    ports: list[int]
    controllers: list[int]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KAFKA_BROKERS": "3", "KAFKA_RUN_DIR": str(self.home / "node"),
                "KAFKA_PORTS": ",".join(map(str, self.ports)),
                "KAFKA_CONTROLLER_PORTS": ",".join(map(str, self.controllers)),
                "KAFKA_HEAP": "-Xms128m -Xmx320m"}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def run(self, *args: str, check: bool = True) -> int:
        return subprocess.run(["bash", str(ROOT / "infra" / "kafka.sh"), *args], env=self.env,
                              check=check, timeout=180, stdout=subprocess.DEVNULL).returncode

    def kill(self, node: int) -> None:
        """SIGKILL: no controlled shutdown, no leadership handed over first."""
        pid = int((self.home / f"node-{node}" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)

    def node_of(self, address: str) -> int:
        return self.ports.index(int(address.rsplit(":", 1)[1])) + 1

    def describe(self, topic: str) -> TopicFacts:
        return asyncio.run(describe_topic(self.bootstrap, topic))

    def heal(self) -> None:
        """Every node that is down, started together (one alone has no quorum to join)."""
        if self.run("start", check=False) != 0:
            raise AssertionError("the cluster did not come back")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if "KAFKA_RUN_DIR" not in (ROOT / "infra" / "kafka.sh").read_text():
        pytest.fail("infra/kafka.sh does not honour KAFKA_RUN_DIR: it would touch the shared one")
    home = ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    c = Cluster(home, [free_port() for _ in range(3)], [free_port() for _ in range(3)])
    try:
        c.run("start")
        yield c
    finally:
        c.run("stop", check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def stack(cluster: Cluster) -> Iterator[Stack]:
    cluster.heal()
    s = Stack(extra_env={"KAFKA_BOOTSTRAP": cluster.bootstrap})
    try:
        yield s.start()
    finally:
        s.stop()
        cluster.heal()


def leader_address(facts: TopicFacts, partition: int) -> str | None:
    """host:port of the broker leading ``partition``."""
    leader = next(p.leader for p in facts.partitions if p.partition == partition)
    return facts.brokers.get(leader)


@dataclass
class Answer:
    event: dict[str, Any]
    started: float
    ended: float
    status: int
    retry_after: str | None
    partition: int | None = None


def post(stack: Stack, event: dict[str, Any]) -> Answer:
    started = time.monotonic()
    try:
        reply = stack.post(event)
    except httpx.TimeoutException:
        return Answer(event, started, time.monotonic(), 0, None)
    body = reply.json() if reply.status_code in (200, 202) else {}
    return Answer(event, started, time.monotonic(), reply.status_code,
                  reply.headers.get("retry-after"), body.get("partition"))


def keep_posting(stack: Stack, city: str, stop: threading.Event) -> list[Answer]:
    def partner(_: int) -> list[Answer]:
        answers: list[Answer] = []
        while not stop.is_set():
            answers.append(post(stack, detention(city, 1 + len(answers) % 5)))
        return answers

    with ThreadPoolExecutor(PARTNERS) as pool:
        return [a for answers in pool.map(partner, range(PARTNERS)) for a in answers]


def retry_until_accepted(stack: Stack, answer: Answer) -> Answer:
    """What a partner does with a 503: the same event again, after Retry-After."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        again = post(stack, answer.event)
        if again.status in (200, 202):
            return again
        time.sleep(float(again.retry_after or 1))
    raise AssertionError(f"event {answer.event['event_id']} never accepted")


def assert_refusals_are_503_with_retry_after(answers: list[Answer]) -> None:
    refused = [a for a in answers if a.status not in (200, 202)]
    assert {a.status for a in refused} <= {503}, sorted({a.status for a in refused})
    assert all(a.retry_after and int(a.retry_after) > 0 for a in refused)


def counted_exactly_once(stack: Stack, city: str, acknowledged: list[Answer]) -> None:
    expected = sum(a.event["payload"]["count"] for a in acknowledged)
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == expected,
               90, 0.5)
    time.sleep(2)  # and nothing more arrives afterwards
    assert stack.detentions_in(city)["detained_total"] == expected  # type: ignore[index]


def settle(stack: Stack, city: str, during: list[Answer]) -> list[Answer]:
    """Every event of the run, acknowledged: 202s as they came, the rest retried."""
    return [a if a.status == 202 else retry_until_accepted(stack, a) for a in during]


# --- topic facts on a real cluster ---------------------------------------------------------

def test_topics_are_rf3_min_isr2_and_have_an_id(cluster: Cluster, stack: Stack) -> None:
    facts = cluster.describe(stack.env["EVENTS_TOPIC"])
    assert len(facts.partitions) == stack.partitions
    assert {len(p.replicas) for p in facts.partitions} == {3}
    assert uuid.UUID(facts.topic_id)
    topic_id, ends = asyncio.run(log_facts(cluster.bootstrap, stack.env["EVENTS_TOPIC"]))
    assert topic_id == facts.topic_id and set(ends) == set(range(stack.partitions))
    before = ends[0]
    assert post(stack, detention(unique(), 1)).status == 202
    after = asyncio.run(end_offsets(cluster.bootstrap, stack.env["EVENTS_TOPIC"],
                                    stack.partitions))
    assert sum(after.values()) == sum(ends.values()) + 1 and after[0] >= before


# --- (a) the leader dies -------------------------------------------------------------------

def test_leader_sigkilled_503_until_leadership_moves_then_202_exactly_once(
        cluster: Cluster, stack: Stack) -> None:
    city = unique()
    before = [post(stack, detention(city, 2)) for _ in range(10)]
    assert {a.status for a in before} == {202}
    partition = before[0].partition
    assert partition is not None
    topic = stack.env["EVENTS_TOPIC"]
    leader = cluster.node_of(leader_address(cluster.describe(topic), partition) or "")

    stop = threading.Event()
    with ThreadPoolExecutor(1) as runner:
        posting = runner.submit(keep_posting, stack, city, stop)
        time.sleep(1.5)
        cluster.kill(leader)
        killed_at = time.monotonic()
        new_leader = wait_until(lambda: (a := leader_address(cluster.describe(topic), partition))
                                and cluster.node_of(a) != leader and a, 60, 0.2)
        moved_at = time.monotonic()
        time.sleep(13)  # posting goes on under the new leader, past the 10 s ack deadline
        stop.set()
        during = posting.result()

    assert_refusals_are_503_with_retry_after(during)
    last_202_before = max((a.ended for a in during if a.status == 202 and a.ended < killed_at),
                          default=killed_at)
    first_202_after = min(a.ended for a in during if a.status == 202 and a.started > killed_at)
    refused = [a for a in during if a.status == 503]
    print(f"\n[cluster a] node {leader} (leader of partition {partition}) SIGKILLed; "
          f"leadership moved to {new_leader} after {moved_at - killed_at:.1f} s; "
          f"window without 202: {first_202_after - last_202_before:.1f} s; "
          f"{len(refused)} answers 503, {sum(a.status == 202 for a in during)} answers 202")
    settled = [a.status for a in during if a.started > moved_at + 10.5]
    assert settled and set(settled) == {202}, settled  # once no send can still time out

    acknowledged = before + settle(stack, city, during)
    counted_exactly_once(stack, city, acknowledged)


# --- (b) two of three down -----------------------------------------------------------------

def test_two_of_three_down_never_202_then_catch_up(cluster: Cluster, stack: Stack) -> None:
    city = unique()
    before = [post(stack, detention(city, 3)) for _ in range(10)]
    assert {a.status for a in before} == {202}

    cluster.kill(2)
    cluster.kill(3)
    down_at = time.monotonic()
    stop = threading.Event()
    with ThreadPoolExecutor(1) as runner:
        posting = runner.submit(keep_posting, stack, city, stop)
        time.sleep(20)
        stop.set()
        during = posting.result()
    up_at = time.monotonic()
    cluster.heal()
    healed_at = time.monotonic()

    print(f"\n[cluster b] nodes 2 and 3 SIGKILLed for {up_at - down_at:.1f} s: "
          f"{len(during)} answers, statuses {sorted({a.status for a in during})}; "
          f"both back in {healed_at - up_at:.1f} s")
    assert during and all(a.status == 503 for a in during), sorted(a.status for a in during)
    assert_refusals_are_503_with_retry_after(during)

    acknowledged = before + settle(stack, city, during)
    after = [post(stack, detention(city, 1)) for _ in range(5)]
    assert {a.status for a in after} == {202}
    counted_exactly_once(stack, city, acknowledged + after)


# --- (c) a node down while the projector runs ----------------------------------------------

class Watcher(Background):
    """A city's detained total every 0.2 s, with when it was read."""

    def __init__(self, stack: Stack, city: str) -> None:
        super().__init__()
        self.stack, self.city, self.seen = stack, city, []

    def step(self) -> None:
        c = self.stack.detentions_in(self.city)
        self.seen.append((time.monotonic(), c["detained_total"] if c else 0))
        time.sleep(0.2)


def test_projector_keeps_applying_with_a_node_down(cluster: Cluster, stack: Stack) -> None:
    city = unique()
    assert post(stack, detention(city, 1)).status == 202
    wait_until(lambda: stack.detentions_in(city), 30, 0.2)
    stop = threading.Event()
    watcher = Watcher(stack, city)
    watcher.start()
    with ThreadPoolExecutor(1) as runner:
        posting = runner.submit(keep_posting, stack, city, stop)
        time.sleep(3)
        # the node leading the group coordinator or the partition matters most: take node 1
        cluster.kill(1)
        killed_at = time.monotonic()
        time.sleep(20)
        total_while_down = stack.detentions_in(city)["detained_total"]  # type: ignore[index]
        stop.set()
        during = posting.result()
    watcher.stop()
    seen = watcher.seen
    applied_down = [n for t, n in seen if killed_at < t]
    growth = [(t, n) for (_, prev), (t, n) in itertools.pairwise(seen) if n > prev]
    after_kill = [killed_at] + [t for t, _ in growth if t > killed_at]
    before_kill = [t for t, _ in growth if t <= killed_at]
    pause = max((b - a for a, b in itertools.pairwise(after_kill)), default=float("inf"))
    usual = max((b - a for a, b in itertools.pairwise(before_kill)), default=0.0)
    print(f"\n[cluster c] node 1 SIGKILLed while projecting: projector's pause (longest "
          f"time without a count increase after the kill) {pause:.1f} s, before the kill "
          f"{usual:.1f} s; {len(after_kill) - 1} increases with the node down; "
          f"count went {applied_down[0] if applied_down else '?'} -> {total_while_down} "
          f"with the node down")
    assert len(after_kill) > 1, "the projector applied nothing while a node was down"
    assert_refusals_are_503_with_retry_after(during)
    acknowledged = settle(stack, city, during)
    first = Answer(detention(city, 1), 0, 0, 202, None)
    first.event["payload"]["count"] = 1
    counted_exactly_once(stack, city, [first, *acknowledged])


def test_a_populated_centre_moves_from_one_broker_to_the_cluster(cluster: Cluster) -> None:
    """Issue 20 item 4: `saylau migrate-log --to` copies the log with its offsets and chain,
    records the new topic id; on the cluster the projector stands at the copy's end (its
    stored offsets are the copy's, every partition) and new reports count."""
    cluster.heal()
    centre = Stack(partitions=3, extra_env={"PROJECTOR_METRICS_PORT": str(free_port())})
    try:  # on the single shared broker (KAFKA_BOOTSTRAP)
        centre.start()
        cities = [unique() for _ in range(3)]
        for i, city in enumerate(cities):
            assert centre.post_batch([detention(city, 1) for _ in range(10 + i)]
                                     ).status_code in (200, 202, 207)
        wait_until(lambda: [(centre.detentions_in(c) or {}).get("detained_total")
                            for c in cities] == [10, 11, 12], 60)
        centre.kill("ingest", signal.SIGTERM)
        centre.kill("projector", signal.SIGTERM)
        topic = centre.env["EVENTS_TOPIC"]
        ends = asyncio.run(end_offsets(centre.env.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA), topic,
                                       centre.partitions))
        saylau = str(Path(sys.executable).with_name("saylau"))
        moved = subprocess.run([saylau, "migrate-log", "--to", cluster.bootstrap], check=False,
                               env=centre.env, cwd=ROOT, timeout=180, capture_output=True,
                               text=True)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "recorded" in moved.stdout
        assert asyncio.run(end_offsets(cluster.bootstrap, topic, centre.partitions)) == ends
        centre.env["KAFKA_BOOTSTRAP"] = cluster.bootstrap
        centre.start_ingest()
        centre.start_projector()
        # the projector takes the copy for the read models' log and stands at its end: its
        # stored offsets are the copy's ends, on every partition
        readyz = f"http://127.0.0.1:{centre.env['PROJECTOR_METRICS_PORT']}/readyz"
        ready = wait_until(lambda: (r := httpx.get(readyz)).status_code == 200 and r.json(), 90)
        assert ready["lag"] == {str(p): 0 for p in range(centre.partitions)}, ready
        assert centre.post(detention(cities[0], 5)).status_code == 202
        wait_until(lambda: (centre.detentions_in(cities[0]) or {}).get("detained_total") == 15,
                   60)
        facts = cluster.describe(centre.env["EVENTS_TOPIC"])
        assert {len(p.replicas) for p in facts.partitions} == {3}
    finally:
        centre.stop()
