"""The api's read cache as ASGI logic: a counting route behind it, a broadcaster's cursor.

Deterministic: the cache's clock is a fake one the tests move, the route answers only when a
test opens its gate, and readers report their arrival, so "while the route computes" and
"older than the bound" are states the test sets up, not races it hopes to win."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from services.api import read_cache
from services.api.read_cache import CACHED, ReadCache

HANG = 30.0
"""Seconds after which readers that should have been answered are taken to hang (a bound on
a failure only: answered readers end the wait at once)."""


class Clock:
    """The cache's ``time.monotonic``: moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(read_cache, "time", fake)
    yield fake


class Route:
    """An ASGI app that counts how often it was asked and answers once its gate is open
    (open unless ``held``); ``entered`` is set when it is asked."""

    def __init__(self, status: int = 200, held: bool = False) -> None:
        self.calls, self.status = 0, status
        self.entered, self.gate = asyncio.Event(), asyncio.Event()
        if not held:
            self.gate.set()

    def hold(self) -> None:
        """The next call waits for ``gate``."""
        self.entered.clear()
        self.gate.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        n = self.calls
        self.entered.set()
        await self.gate.wait()
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"x-request-id", b"not-kept")]})
        await send({"type": "http.response.body", "body": b'{"n": %d}' % n})


class Arrivals:
    """Set ``all`` once ``expected`` readers have entered the cache (so they are waiting, or
    queued to, before the test opens the route's gate)."""

    def __init__(self, expected: int) -> None:
        self.left, self.all = expected, asyncio.Event()

    def arrive(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.all.set()


def app_with(cursor: int) -> Any:
    return SimpleNamespace(state=SimpleNamespace(
        broadcaster=SimpleNamespace(cursor=cursor, connected=True)))


async def ask(cache: ReadCache, app: Any, path: str = "/v1/detentions",
              key: bytes = b"Bearer r",
              arrivals: Arrivals | None = None) -> tuple[int, bytes, list[Any]]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "headers": [(b"authorization", key)], "app": app}
    if arrivals is not None:
        arrivals.arrive()
    await cache(scope, None, send)
    return sent[0]["status"], sent[1]["body"], sent[0]["headers"]


def readers(cache: ReadCache, app: Any, n: int) -> tuple[list[asyncio.Task[Any]], Arrivals]:
    arrivals = Arrivals(n)
    return [asyncio.create_task(ask(cache, app, arrivals=arrivals)) for _ in range(n)], arrivals


def bodies(answers: list[tuple[int, bytes, list[Any]]]) -> set[bytes]:
    return {body for _, body, _ in answers}


def test_fifty_readers_at_once_cost_one_route_call_until_the_feed_moves(clock: Clock) -> None:
    async def run() -> None:
        route = Route(held=True)
        cache, app = ReadCache(route, 0.5), app_with(7)
        first = asyncio.create_task(ask(cache, app))
        await route.entered.wait()
        others, arrived = readers(cache, app, 49)
        await arrived.all.wait()
        assert not any(t.done() for t in others)  # waiting for the one route call
        route.gate.set()
        answers = [await first, *await asyncio.gather(*others)]
        assert route.calls == 1 and bodies(answers) == {b'{"n": 1}'}
        assert all(b"x-request-id" not in dict(h) for _, _, h in answers[1:])
        clock.advance(0.49)
        assert (await ask(cache, app))[1] == b'{"n": 1}' and route.calls == 1
        app.state.broadcaster.cursor = 8  # a change: the next read asks the route again
        assert (await ask(cache, app))[1] == b'{"n": 2}'
    asyncio.run(run())


def test_after_a_change_only_the_first_reader_waits_for_the_route(clock: Clock) -> None:
    """Readers arriving while the new answer is computed get the previous one, as long as it
    is younger than the bound; an older one is never given: they wait for the new."""
    async def run() -> None:
        route = Route()
        cache, app = ReadCache(route, 0.5), app_with(7)
        assert (await ask(cache, app))[1] == b'{"n": 1}'
        clock.advance(0.4)  # younger than the bound
        app.state.broadcaster.cursor = 8
        route.hold()
        first = asyncio.create_task(ask(cache, app))
        await route.entered.wait()  # the first reader is now asking the route
        during = [asyncio.create_task(ask(cache, app)) for _ in range(20)]
        _, late = await asyncio.wait(during, timeout=HANG)
        assert not late, "readers waited for the route instead of getting the previous answer"
        assert bodies([t.result() for t in during]) == {b'{"n": 1}'} and route.calls == 2
        assert not first.done()
        route.gate.set()
        assert (await first)[1] == b'{"n": 2}'
        assert (await ask(cache, app))[1] == b'{"n": 2}' and route.calls == 2

        for change in (False, True):  # an answer too old, whether the feed moved or not
            aged_route = Route()
            aged = ReadCache(aged_route, 0.03)
            assert (await ask(aged, app))[1] == b'{"n": 1}'
            clock.advance(0.04)  # the kept answer is older than the bound: never given
            app.state.broadcaster.cursor += change
            aged_route.hold()
            first = asyncio.create_task(ask(aged, app))
            await aged_route.entered.wait()
            waiting, arrived = readers(aged, app, 5)
            await arrived.all.wait()
            assert not any(t.done() for t in waiting)  # neither the old answer nor the route
            aged_route.gate.set()
            assert bodies(await asyncio.gather(first, *waiting)) == {b'{"n": 2}'}
            assert aged_route.calls == 2
    asyncio.run(run())


def test_each_credential_and_read_is_answered_on_its_own(clock: Clock) -> None:
    async def run() -> None:
        route = Route()
        cache, app = ReadCache(route, 0.5), app_with(1)
        await ask(cache, app, key=b"Bearer auditor")
        await ask(cache, app, key=b"Bearer reader")
        await ask(cache, app, path="/v1/regions", key=b"Bearer reader")
        assert route.calls == 3
    asyncio.run(run())


def test_refusals_age_and_other_paths_are_never_kept(clock: Clock) -> None:
    async def run() -> None:
        refused = Route(status=401)
        cache, app = ReadCache(refused, 0.5), app_with(1)
        await ask(cache, app)
        await ask(cache, app)
        assert refused.calls == 2
        live, aged = Route(), Route()
        await ask(ReadCache(live, 0.5), app, path="/v1/live")
        await ask(ReadCache(live, 0.5), app, path="/v1/live")
        assert live.calls == 2
        short = ReadCache(aged, 0.01)
        await ask(short, app)
        clock.advance(0.005)
        await ask(short, app)
        assert aged.calls == 1  # still young: from memory
        clock.advance(0.01)
        await ask(short, app)
        assert aged.calls == 2  # older than the bound: asked again
    asyncio.run(run())


def test_the_hot_reads_are_the_cached_paths() -> None:
    for path in ("/v1/detentions", "/v1/triage", "/v1/breaches", "/v1/breaches/summary",
                 "/v1/breaches/b1/events", "/v1/regions", "/v1/regions/Almaty/stations",
                 "/v1/stations", "/v1/stations/PS-1/timeline", "/v1/timeline", "/v1/events/e1",
                 "/v1/map/regions", "/v1/map/stations"):
        assert CACHED.match(path), path
    for path in ("/v1/live", "/v1/events", "/v1/evidence/ab", "/v1/session",
                 "/v1/admin/keys", "/v1/breaches/b1/events/x", "/metrics", "/v1/map/x"):
        assert not CACHED.match(path), path


class Gzipped:
    """A map route: GeoJSON, gzipped; counts its calls."""

    calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/geo+json"), (b"content-encoding", b"gzip")]})
        await send({"type": "http.response.body", "body": b"\x1f\x8b..."})


async def ask_gzipped(cache: ReadCache, app: Any, path: str) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)
    await cache({"type": "http", "method": "GET", "path": path, "query_string": b"",
                 "app": app, "headers": [(b"authorization", b"Bearer r"),
                                         (b"accept-encoding", b"gzip")]}, None, send)
    return sent[0]["headers"]  # type: ignore[no-any-return]


def test_a_gzipped_geojson_answer_is_kept_with_its_encoding_for_those_who_accept_it(
        clock: Clock) -> None:
    async def run() -> None:
        route = Gzipped()
        cache, app = ReadCache(route, 0.5), app_with(7)
        for _ in range(2):
            assert (b"content-encoding", b"gzip") in await ask_gzipped(
                cache, app, "/v1/map/stations")
        assert route.calls == 1
        await ask(cache, app, "/v1/map/stations")  # accepting no gzip: asked of the route
        assert route.calls == 2
    asyncio.run(run())
