"""The api as several worker processes (``API_WORKERS``): a dashboard session opened on one
is good on all (sessions live in PostgreSQL), and every worker pushes the change feed live.

Which worker answered is read from the answer itself: every ``X-Request-ID`` the api draws
starts with a random prefix of the process that drew it (``saylau.web.errors``), so the tests
go on until each worker has answered, and prove it, instead of trusting the kernel to spread
connections."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from saylau.web.errors import REQUEST_ID_HEADER
from tests.e2e.test_live import Message, event_ids, live_reply, parse_sse, read_until
from tests.factories import detention, unique
from tests.stack import Stack

WORKERS = 2
TRIES = 200
"""Fresh connections at most until every worker has answered (the kernel hands each
connection to whichever worker accepts first)."""
STREAMS = 40
"""Streams opened at most until every worker serves one."""
PREFIX = 16
"""Hex digits of a request id that name the process that drew it."""


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Stack]:
    running = Stack(partitions=2, api_workers=WORKERS).start()
    yield running
    running.stop()


def worker_of(reply: httpx.Response) -> str:
    """The api worker process that answered (the request carried no id of its own)."""
    return reply.headers[REQUEST_ID_HEADER][:PREFIX]


def every_worker_answers(ask: Callable[[httpx.Client], httpx.Response],
                         cookies: dict[str, str]) -> dict[str, set[int]]:
    """``ask`` on a fresh connection each time until every worker has answered it: the
    statuses each worker gave."""
    answered: dict[str, set[int]] = {}
    for _ in range(TRIES):
        with httpx.Client(cookies=cookies) as fresh:
            reply = ask(fresh)
        answered.setdefault(worker_of(reply), set()).add(reply.status_code)
        if len(answered) == WORKERS:
            return answered
    raise AssertionError(f"only {len(answered)} of {WORKERS} workers answered in {TRIES} "
                         f"connections: {answered}")


def test_a_session_opened_on_one_worker_is_good_on_every_worker(two_workers: Stack) -> None:
    api = two_workers.api_url
    opened = httpx.post(f"{api}/v1/session", json={"key": two_workers.reader_key})
    assert opened.status_code == 200
    cookies = dict(opened.cookies)
    session = every_worker_answers(lambda c: c.get(f"{api}/v1/session"), cookies)
    assert worker_of(opened) in session  # the worker that opened it, and the other one
    assert session == {w: {200} for w in session}, session
    reads = every_worker_answers(lambda c: c.get(f"{api}/v1/regions"), cookies)
    assert reads == {w: {200} for w in reads} and set(reads) == set(session), reads
    with httpx.Client(cookies=cookies) as fresh:
        assert fresh.delete(f"{api}/v1/session").status_code == 204
    closed = every_worker_answers(lambda c: c.get(f"{api}/v1/session"), cookies)
    assert closed == {w: {401} for w in closed} and set(closed) == set(session), closed


def test_every_stream_gets_the_change_whichever_worker_serves_it(two_workers: Stack) -> None:
    report = detention(unique(), 3)
    with ExitStack() as streams:
        opened: list[Iterator[Message]] = []
        serving: set[str] = set()
        while len(serving) < WORKERS or len(opened) < 2 * WORKERS:
            assert len(opened) < STREAMS, f"only workers {serving} took a stream"
            reply = streams.enter_context(live_reply(two_workers, kinds="event"))
            serving.add(worker_of(reply))
            opened.append(parse_sse(reply.iter_lines()))
        assert len(serving) == WORKERS
        for stream in opened:
            assert next(stream).event == "hello"
        assert two_workers.post(report).status_code == 202
        for stream in opened:
            read_until(stream, lambda seen: report["event_id"] in event_ids(seen))
