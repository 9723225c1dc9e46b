"""Bad input gets a clear 4xx naming the field; nothing is appended for it."""
from __future__ import annotations

import httpx
import orjson
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


def api_get(stack: Stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}{path}", timeout=30,
                     headers={"Authorization": f"Bearer {stack.reader_key}"})


@pytest.mark.parametrize("path, loc", [
    ("/v1/breaches?status=%00", ["query", "status"]),
    ("/v1/stations?region=Al%00maty", ["query", "region"]),
    ("/v1/stations/PS%00-1", ["path"]),
    ("/v1/detentions?as_of=0.5", ["query", "as_of"]),
    ("/v1/detentions?as_of=2021-01-10T15:00:00", ["query", "as_of"]),
    ("/v1/breaches?since=1610269200", ["query", "since"]),
    ("/v1/live?cursor=99999999999999999999", ["query", "cursor"]),
])
def test_input_the_database_would_refuse_is_422_not_an_outage(stack: Stack, path: str,
                                                              loc: list[str]) -> None:
    reply = api_get(stack, path)
    assert reply.status_code == 422, reply.text
    assert "retry-after" not in reply.headers and reply.headers["x-request-id"]
    assert loc in [e["loc"] for e in reply.json()["detail"]]


def test_timestamps_with_an_offset_are_accepted(stack: Stack) -> None:
    assert api_get(stack, "/v1/detentions?as_of=2021-01-10T09:00:00Z").status_code == 200
    assert api_get(stack, "/v1/breaches?since=2021-01-10T15:00:00%2B06:00").status_code == 200


def test_dead_letter_partition_beyond_int4_is_422(stack: Stack) -> None:
    reply = httpx.post(f"{stack.api_url}/v1/admin/dead-letters/replay", timeout=30,
                       json={"dead_letters": [{"partition": 1307674368000, "offset": 0}]},
                       headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert reply.status_code == 422, reply.text
    assert ["body", "dead_letters", 0, "partition"] in [e["loc"] for e in reply.json()["detail"]]


def test_nul_in_an_ingest_query_is_422_with_a_request_id(stack: Stack) -> None:
    reply = httpx.post(f"{stack.ingest_url}/v1/events?x=%00", json=detention(unique(), 1),
                       headers={"Authorization": f"Bearer {stack.writer_key}",
                                "X-Request-ID": "trace-7"}, timeout=30)
    assert reply.status_code == 422 and reply.headers["x-request-id"] == "trace-7"


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events:batch"])
@pytest.mark.parametrize("declared", ["text/plain", "application/x-www-form-urlencoded"])
def test_body_declared_as_not_json_is_415(stack: Stack, path: str, declared: str) -> None:
    event = detention(unique(), 1)
    body = orjson.dumps([event] if path.endswith(":batch") else event)
    url, auth = f"{stack.ingest_url}{path}", f"Bearer {stack.writer_key}"
    refused = httpx.post(url, content=body, headers={"Authorization": auth,
                                                     "Content-Type": declared})
    assert refused.status_code == 415, refused.text
    assert "application/json" in refused.json()["detail"]
    taken = httpx.post(url, content=body, headers={
        "Authorization": auth, "Content-Type": "application/json; charset=utf-8"})
    code = taken.json()["results"][0]["code"] if path.endswith(":batch") else taken.status_code
    assert code == 202, taken.text  # accepted as new: the 415 appended nothing
