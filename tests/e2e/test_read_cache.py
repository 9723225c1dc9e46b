"""Hot reads answered from memory until the change feed moves (services/api/read_cache.py):
the answer is the route's, a change shows through, and only the credential that obtained
an answer is ever given it."""
from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.e2e.test_personal_data import new_key
from tests.factories import detention, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.integration


def answers_from(stack: Stack, source: str) -> float:
    text = httpx.get(f"{stack.api_url}/metrics", timeout=30).text
    found = re.search(rf'^saylau_api_read_cache_answers_total{{source="{source}"}} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def get(stack: Stack, path: str, key: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.api_url}{path}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {key}"})


def test_a_repeated_read_is_the_same_answer_from_memory_and_a_change_shows(
        stack: Stack) -> None:
    def twice() -> tuple[httpx.Response, httpx.Response] | None:
        """The same read twice; both, when the second came from memory (a change applied
        between the two, e.g. the previous test's last event, empties the cache: try again)."""
        before = answers_from(stack, "memory")
        first, again = (get(stack, "/v1/detentions", stack.reader_key) for _ in range(2))
        assert first.status_code == again.status_code == 200
        return (first, again) if answers_from(stack, "memory") > before else None

    first, again = wait_until(twice, 30)
    assert first.content == again.content
    assert first.headers["x-request-id"] != again.headers["x-request-id"]
    assert first.headers["content-type"] == again.headers["content-type"]

    city = unique()
    assert stack.post(detention(city, 4)).status_code == 202
    shown = wait_until(lambda: next((c for c in get(stack, "/v1/detentions", stack.reader_key)
                                     .json()["cities"] if c["city"] == city), None), 30)
    assert shown["detained_total"] == 4


def test_an_answer_is_given_only_to_the_credential_that_obtained_it(stack: Stack) -> None:
    station, name = unique("PS"), f"Aigerim {unique('n')}"
    report = {**detention(unique(), 1, station_id=station),
              "payload": {"count": 1, "persons": [name]}}
    assert stack.post(report).status_code == 202
    auditor = new_key(stack, "auditor", "read,audit")
    path = f"/v1/stations/{station}/timeline"

    def named() -> str:
        reply = get(stack, path, auditor)
        assert reply.status_code == 200 and name in reply.text
        return reply.text
    wait_until(named, 30)
    for _ in range(3):  # the auditor's answer is in memory now; a reader never gets it
        reply = get(stack, path, stack.reader_key)
        assert reply.status_code == 200 and name not in reply.text
        assert get(stack, path, "nope").status_code == 401
