"""The api as several worker processes (``API_WORKERS``): a dashboard session opened on one
is good on all (sessions live in PostgreSQL), and every worker pushes the change feed live."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_live import event_ids, live_stream, read_until
from tests.factories import detention, unique
from tests.stack import Stack

WORKERS = 2


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Stack]:
    running = Stack(partitions=2, api_workers=WORKERS).start()
    yield running
    running.stop()


def worker_processes(stack: Stack) -> list[int]:
    """The pids of the api's uvicorn workers (children of the supervisor)."""
    parent = stack.procs["api"][0].pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(c) for c in children
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_a_session_opened_on_one_worker_is_good_on_every_worker(two_workers: Stack) -> None:
    assert len(worker_processes(two_workers)) == WORKERS
    opened = httpx.post(f"{two_workers.api_url}/v1/session", json={"key": two_workers.reader_key})
    assert opened.status_code == 200
    cookies = dict(opened.cookies)
    for _ in range(12):  # a new connection each time: the kernel hands them to either worker
        with httpx.Client(cookies=cookies) as fresh:
            assert fresh.get(f"{two_workers.api_url}/v1/session").status_code == 200
            assert fresh.get(f"{two_workers.api_url}/v1/regions").status_code == 200
    with httpx.Client(cookies=cookies) as fresh:
        assert fresh.delete(f"{two_workers.api_url}/v1/session").status_code == 204
    for _ in range(6):
        with httpx.Client(cookies=cookies) as fresh:
            assert fresh.get(f"{two_workers.api_url}/v1/session").status_code == 401


def test_every_stream_gets_the_change_whichever_worker_serves_it(two_workers: Stack) -> None:
    report = detention(unique(), 3)
    with ExitStack() as streams:
        opened = [streams.enter_context(live_stream(two_workers, kinds="event"))
                  for _ in range(2 * WORKERS)]
        for stream in opened:
            assert next(stream).event == "hello"
        assert two_workers.post(report).status_code == 202
        for stream in opened:
            read_until(stream, lambda seen: report["event_id"] in event_ids(seen))
