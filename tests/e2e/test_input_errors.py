"""Bad input gets a clear 4xx naming the field; nothing is appended for it."""
from __future__ import annotations

import httpx
import pytest

from tests.factories import detention, envelope, unique
from tests.stack import Stack


def test_missing_key_is_401(stack: Stack) -> None:
    reply = httpx.post(f"{stack.ingest_url}/v1/events", json=detention("x", 1))
    assert reply.status_code == 401


def test_wrong_key_is_401(stack: Stack) -> None:
    assert stack.post(detention("x", 1), key="nope").status_code == 401


def test_read_only_key_cannot_ingest(stack: Stack) -> None:
    assert stack.post(detention("x", 1), key=stack.reader_key).status_code == 403


@pytest.mark.parametrize("change, loc", [
    ({"payload": {"count": 0}}, ["payload", "count"]),
    ({"payload": {"count": "many"}}, ["payload", "count"]),
    ({"payload": {"count": 1, "colour": "red"}}, ["payload"]),
    ({"occurred_at": "2021-01-10T11:20:00"}, ["occurred_at"]),
    ({"occurred_at": "2999-01-01T00:00:00+00:00"}, ["occurred_at"]),
    ({"event_id": "not-a-uuid"}, ["event_id"]),
    ({"type": "ufo.sighted"}, ["type"]),
    ({"schema_version": 7}, ["schema_version"]),
    ({"surprise": True}, ["surprise"]),
])
def test_invalid_event_is_422_naming_the_field(stack: Stack, change: dict[str, object],
                                              loc: list[str]) -> None:
    reply = stack.post({**detention(unique(), 1), **change})
    assert reply.status_code == 422, reply.text
    assert loc in [e["loc"] for e in reply.json()["detail"]]


def test_malformed_json_is_400(stack: Stack) -> None:
    reply = httpx.post(f"{stack.ingest_url}/v1/events", content=b'{"event_id": ',
                       headers={"Authorization": f"Bearer {stack.writer_key}",
                                "Content-Type": "application/json"})
    assert reply.status_code == 400


def test_body_over_one_mebibyte_is_413(stack: Stack) -> None:
    big = envelope("detention.reported", {"count": 1, "reason": "x" * (1024 * 1024)},
                   place={"region": "Almaty", "city": "Almaty"})
    assert stack.post(big).status_code == 413


def test_retraction_of_unknown_event_is_422(stack: Stack) -> None:
    reply = stack.post(envelope("report.retracted",
                                {"event_id": "00000000-0000-4000-8000-000000000000"}))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["payload", "event_id"]
