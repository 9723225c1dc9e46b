"""The api's read cache as ASGI logic: a counting route behind it, a broadcaster's cursor."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from services.api.read_cache import CACHED, ReadCache


class Route:
    """An ASGI app that answers after a moment and counts how often it was asked."""

    def __init__(self, status: int = 200) -> None:
        self.calls, self.status = 0, status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await asyncio.sleep(0.02)
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"x-request-id", b"not-kept")]})
        await send({"type": "http.response.body", "body": b'{"n": %d}' % self.calls})


def app_with(cursor: int) -> Any:
    return SimpleNamespace(state=SimpleNamespace(
        broadcaster=SimpleNamespace(cursor=cursor, connected=True)))


async def ask(cache: ReadCache, app: Any, path: str = "/v1/detentions",
              key: bytes = b"Bearer r") -> tuple[int, bytes, list[Any]]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "headers": [(b"authorization", key)], "app": app}
    await cache(scope, None, send)
    return sent[0]["status"], sent[1]["body"], sent[0]["headers"]


def test_fifty_readers_at_once_cost_one_route_call_until_the_feed_moves() -> None:
    async def run() -> None:
        route = Route()
        cache, app = ReadCache(route, 0.5), app_with(7)
        answers = await asyncio.gather(*(ask(cache, app) for _ in range(50)))
        assert route.calls == 1 and {body for _, body, _ in answers} == {b'{"n": 1}'}
        assert all(b"x-request-id" not in dict(h) for _, _, h in answers[1:])
        assert (await ask(cache, app))[1] == b'{"n": 1}' and route.calls == 1
        app.state.broadcaster.cursor = 8  # a change: the next read asks the route again
        assert (await ask(cache, app))[1] == b'{"n": 2}'
    asyncio.run(run())


def test_after_a_change_only_the_first_reader_waits_for_the_route() -> None:
    """Readers arriving while the new answer is computed get the previous one, as long as it
    is younger than the bound; an older one is never given: they wait for the new."""
    async def run() -> None:
        route = Route()
        cache, app = ReadCache(route, 0.5), app_with(7)
        assert (await ask(cache, app))[1] == b'{"n": 1}'
        app.state.broadcaster.cursor = 8
        first = asyncio.create_task(ask(cache, app))
        await asyncio.sleep(0)  # the first reader is now asking the route
        during = await asyncio.wait_for(asyncio.gather(*(ask(cache, app) for _ in range(20))),
                                        0.015)  # sooner than the route answers
        assert {body for _, body, _ in during} == {b'{"n": 1}'} and route.calls == 2
        assert (await first)[1] == b'{"n": 2}'
        assert (await ask(cache, app))[1] == b'{"n": 2}' and route.calls == 2

        aged = ReadCache(Route(), 0.03)
        await ask(aged, app)
        await asyncio.sleep(0.04)  # the kept answer is older than the bound
        app.state.broadcaster.cursor = 9
        first = asyncio.create_task(ask(aged, app))
        await asyncio.sleep(0)
        assert {b for _, b, _ in await asyncio.gather(*(ask(aged, app) for _ in range(5)))} == {
            b'{"n": 2}'}
        assert (await first)[1] == b'{"n": 2}'
    asyncio.run(run())


def test_each_credential_and_read_is_answered_on_its_own() -> None:
    async def run() -> None:
        route = Route()
        cache, app = ReadCache(route, 0.5), app_with(1)
        await ask(cache, app, key=b"Bearer auditor")
        await ask(cache, app, key=b"Bearer reader")
        await ask(cache, app, path="/v1/regions", key=b"Bearer reader")
        assert route.calls == 3
    asyncio.run(run())


def test_refusals_age_and_other_paths_are_never_kept() -> None:
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
        await asyncio.sleep(0.03)
        await ask(short, app)
        assert aged.calls == 2
    asyncio.run(run())


def test_the_hot_reads_are_the_cached_paths() -> None:
    for path in ("/v1/detentions", "/v1/triage", "/v1/breaches", "/v1/breaches/summary",
                 "/v1/breaches/b1/events", "/v1/regions", "/v1/regions/Almaty/stations",
                 "/v1/stations", "/v1/stations/PS-1/timeline", "/v1/timeline", "/v1/events/e1"):
        assert CACHED.match(path), path
    for path in ("/v1/live", "/v1/events", "/v1/evidence/ab", "/v1/session",
                 "/v1/admin/keys", "/v1/breaches/b1/events/x", "/metrics"):
        assert not CACHED.match(path), path
