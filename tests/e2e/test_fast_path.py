"""``POST /v1/events`` answers the same on the hot path as on the FastAPI route.

The hot path (services/ingest/fastpath.py) takes requests without a query string; a query
string the route ignores sends the same request to the route, so each case is asked both
ways and the answers compared (status, body, the headers a client reads)."""
from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.factories import detention, unique
from tests.stack import Stack

pytestmark = pytest.mark.integration
ROUTE = {"via": "route"}  # any query string: the hot path leaves the request to the route


def both(stack: Stack, body: bytes, headers: dict[str, str]) -> tuple[httpx.Response, ...]:
    url = f"{stack.ingest_url}/v1/events"
    return (httpx.post(url, content=body, headers=headers, timeout=30),
            httpx.post(url, content=body, headers=headers, params=ROUTE, timeout=30))


def same(hot: httpx.Response, route: httpx.Response) -> None:
    assert (hot.status_code, hot.json()) == (route.status_code, route.json())
    for header in ("content-type", "retry-after", "www-authenticate"):
        assert hot.headers.get(header) == route.headers.get(header), header
    for reply in (hot, route):  # exactly one request id, whichever path answered
        assert len(reply.headers.get_list("x-request-id")) == 1


def keyed(stack: Stack, key: str | None = None, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key or stack.writer_key}",
            "Content-Type": "application/json", **more}


@pytest.mark.parametrize("body, status", [
    (b'{"event_id": ', 400),                       # malformed JSON
    (b"null", 422),                                # JSON, not an event
    (b"[]", 422),                                  # an array is the batch endpoint's
    (orjson.dumps({**detention("x", 1), "payload": {"count": 0}}), 422),
])
def test_refusals_are_worded_alike(stack: Stack, body: bytes, status: int) -> None:
    hot, route = both(stack, body, keyed(stack))
    assert hot.status_code == status, hot.text
    same(hot, route)


@pytest.mark.parametrize("case", ["no key", "unknown key", "reader key", "form", "+json"])
def test_requests_left_to_the_route_get_its_answer(stack: Stack, case: str) -> None:
    headers: dict[str, Any] = {
        "no key": {"Content-Type": "application/json"},
        "unknown key": keyed(stack, "nope"),
        "reader key": keyed(stack, stack.reader_key),
        "form": keyed(stack, **{"Content-Type": "application/x-www-form-urlencoded"}),
        "+json": keyed(stack, **{"Content-Type": "application/vnd.saylau+json"}),
    }[case]
    event = orjson.dumps(detention(unique(), 1))
    hot, route = both(stack, event, headers)
    if case == "+json":  # accepted by the route (once), the same event again is a re-send
        assert (hot.status_code, route.status_code) == (202, 200)
        return
    same(hot, route)
    assert hot.status_code == {"no key": 401, "unknown key": 401, "reader key": 403,
                               "form": 415}[case]


def test_accepted_then_recognised_as_resent_on_either_path(stack: Stack) -> None:
    event = detention(unique(), 2)
    hot, route = both(stack, orjson.dumps(event), keyed(stack))
    assert hot.status_code == 202 and hot.json()["event_id"] == event["event_id"]
    assert {"partition", "offset", "warnings"} <= hot.json().keys()
    assert route.status_code == 200 and route.json()["status"] == "duplicate"
    again = httpx.post(f"{stack.ingest_url}/v1/events", content=orjson.dumps(event),
                       headers=keyed(stack), timeout=30)
    same(again, route)


def test_oversized_body_is_413_without_reading_it(stack: Stack) -> None:
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    hot, route = both(stack, big, keyed(stack))
    assert hot.status_code == 413
    same(hot, route)
