"""Hostile input against ingest: always a clear JSON 4xx, never a 5xx, nothing appended.

Two generators: schemathesis, driven by the OpenAPI document (``Envelope`` as the body
schema, positive and negative cases), and hypothesis strategies for what a schema cannot
describe: broken JSON, invalid UTF-8, huge and deeply nested bodies, clock extremes and ids
re-used with other content. Every accepted item is counted; at the end the topic must have
grown by exactly that many records.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from saylau.settings import Settings
from tests.factories import detention, unique
from tests.stack import Stack

MIB = 1024 * 1024
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                derandomize=True)  # the same cases every run (CI); a new seed: edit here


@dataclass
class Ledger:
    """Records the topic's end offsets up front and counts every item answered 202."""

    before: int
    accepted: int = 0


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[Stack]:
    """Ingest alone, rate limit off: nothing but ingest writes to this topic."""
    stack = Stack(extra_env={"RATE_LIMIT_PER_SECOND": "0"})
    try:
        stack.start_ingest()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def ledger(fuzz_stack: Stack) -> Iterator[Ledger]:
    """Counts what the module's tests got accepted; afterwards the topic grew by exactly that."""
    counted = Ledger(before=appended(fuzz_stack))
    yield counted
    assert appended(fuzz_stack) - counted.before == counted.accepted


def appended(stack: Stack) -> int:
    """Records in the stack's events topic (sum of end offsets)."""
    async def end_offsets() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=Settings().kafka_bootstrap)
        await consumer.start()
        try:
            topic = f"{stack.name}.events"
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            return sum(ends.values())
        finally:
            await consumer.stop()

    return asyncio.run(end_offsets())


def check_answer(status: int, body: Any, ledger: Ledger) -> None:
    """2xx is counted; anything else must be a JSON 4xx whose detail names what is wrong."""
    assert status < 500, (status, body)
    if status in (200, 202):
        ledger.accepted += body.get("accepted", 1 if status == 202 else 0)
        for result in body.get("results", []):
            check_item(result)
        return
    assert 400 <= status < 500 and isinstance(body, dict) and body["detail"], (status, body)
    if status in (409, 422):
        for error in body["detail"]:
            assert error["msg"] and isinstance(error["loc"], list), error
            assert error["loc"] or "JSON object" in error["msg"], error
    else:
        assert isinstance(body["detail"], str) and "body" in body["detail"], body


def check_item(result: dict[str, Any]) -> None:
    assert result["code"] in (200, 202, 403, 409, 422), result
    if result["code"] == 403:  # a type no key posts here (broadcasts): the error names it
        assert [e["loc"] for e in result["errors"]] == [["type"]], result
    if result["code"] in (409, 422):
        check_answer(result["code"], {"detail": result["errors"]}, Ledger(0))


def post_raw(stack: Stack, body: bytes, path: str = "/v1/events") -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}{path}", content=body, timeout=30,
                      headers={"Authorization": f"Bearer {stack.writer_key}",
                               "Content-Type": "application/json"})


def send(stack: Stack, ledger: Ledger, body: bytes, path: str = "/v1/events") -> httpx.Response:
    reply = post_raw(stack, body, path)
    check_answer(reply.status_code, reply.json(), ledger)
    return reply


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events:batch"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_driven(fuzz_stack: Stack, ledger: Ledger, path: str,
                        mode: GenerationMode) -> None:
    """schemathesis cases from ingest's own OpenAPI document (``Envelope`` request bodies)."""
    loaded = schemathesis.openapi.from_url(f"{fuzz_stack.ingest_url}/openapi.json")
    auth = {"Authorization": f"Bearer {fuzz_stack.writer_key}"}

    @FUZZ  # the key fixed: the document declares it, so it would be negated too
    @given(case=loaded[path]["POST"].as_strategy(mode, headers=auth))
    def call(case: Any) -> None:
        response = case.call(base_url=fuzz_stack.ingest_url, headers=auth)
        check_answer(response.status_code, response.json(), ledger)

    call()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(
    allow_nan=False) | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)


@FUZZ
@given(st.binary(max_size=200) | st.sampled_from([
    b'{"event_id": ', b"{'type': 'detention.reported'}", b"[1, 2,]", b"NaN", b"",
    b'{"a": 1} trailing', b"\xef\xbb\xbf{}", b'{"source": "\xff\xfe"}',
    orjson.dumps(detention("city", 1)).replace(b"test-hotline", b"\xc3\x28\xa0\xa1")]))
def test_malformed_json_and_invalid_utf8(fuzz_stack: Stack, ledger: Ledger,
                                         body: bytes) -> None:
    send(fuzz_stack, ledger, body)


@FUZZ
@given(st.sampled_from(["event_id", "type", "schema_version", "occurred_at", "source",
                        "station_id", "place", "payload", "election_id"]), json_values)
def test_wrong_types(fuzz_stack: Stack, ledger: Ledger, field: str, value: Any) -> None:
    body = json.dumps({**detention(unique(), 1), field: value})  # big ints too: not orjson
    send(fuzz_stack, ledger, body.encode())


@FUZZ
@given(st.sampled_from(["source", "station_id", "type", "place"]),
       st.integers(200, MIB + 1000), st.booleans())
def test_huge_strings_and_arrays(fuzz_stack: Stack, ledger: Ledger, field: str, size: int,
                                 as_array: bool) -> None:
    event = detention(unique(), 1)
    if as_array:
        event["payload"]["persons"] = ["Name"] * (1001 + size // 8)  # maxItems is 1000
    else:
        event[field] = "x" * size
    reply = send(fuzz_stack, ledger, orjson.dumps(event))
    assert reply.status_code in (413, 422)


@FUZZ
@given(st.integers(2, 200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting(fuzz_stack: Stack, ledger: Ledger, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = (opener * depth + "1" + closer * depth).encode()
    event = orjson.dumps(detention(unique(), 1)).replace(b'{"count":1}', nested)
    for path in ("/v1/events", "/v1/events:batch"):
        assert send(fuzz_stack, ledger, event, path).status_code in (400, 413, 422)


@FUZZ
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), json_values,
                       min_size=1, max_size=3), st.booleans())
def test_unknown_fields(fuzz_stack: Stack, ledger: Ledger, extra: dict[str, Any],
                        in_payload: bool) -> None:
    event = detention(unique(), 1)
    known = set(event) if not in_payload else {"count", "persons", "reason"}
    extra = {k: v for k, v in extra.items() if k not in known}
    if in_payload:
        event["payload"].update(extra)
    else:
        event.update(extra)
    reply = send(fuzz_stack, ledger, json.dumps(event).encode())
    assert reply.status_code in ((400, 422) if extra else (202,))  # 400: ints past 64 bits


@FUZZ
@given(st.from_regex(r"[a-z_]{1,12}(\.[a-z_]{1,12}){1,2}", fullmatch=True),
       st.integers(-5, 200))
def test_unknown_types_and_versions(fuzz_stack: Stack, ledger: Ledger, type_: str,
                                    version: int) -> None:
    event = {**detention(unique(), 1), "type": type_, "schema_version": version}
    reply = send(fuzz_stack, ledger, orjson.dumps(event))
    assert reply.status_code == 422


@FUZZ
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.just(UTC)) | st.sampled_from([None]),
       st.sampled_from(["+275760-09-13T00:00:00Z", "0000-00-00T00:00:00Z",
                        "2021-02-30T10:00:00+06:00", "2021-01-10T11:20:00+25:00", "1e10"]))
def test_far_future_and_far_past_timestamps(fuzz_stack: Stack, ledger: Ledger,
                                            moment: datetime | None, text: str) -> None:
    occurred_at = moment.isoformat() if moment else text
    reply = send(fuzz_stack, ledger, orjson.dumps({**detention(unique(), 1),
                                                   "occurred_at": occurred_at}))
    plausible = moment and datetime(1990, 1, 1, tzinfo=UTC) <= moment <= (
        datetime.now(UTC) + timedelta(hours=23))
    assert reply.status_code == (202 if plausible else 422), reply.text
    if not plausible:
        assert ["occurred_at"] in [e["loc"][:1] for e in reply.json()["detail"]]


@FUZZ
@given(st.integers(1, 1000), st.integers(1, 1000), st.booleans())
def test_same_id_other_content_is_409(fuzz_stack: Stack, ledger: Ledger, first: int,
                                      second: int, batched: bool) -> None:
    original = detention(unique(), first)
    changed = {**original, "payload": {"count": second}}
    if batched:
        reply = send(fuzz_stack, ledger, orjson.dumps([original, changed]), "/v1/events:batch")
        codes = [r["code"] for r in reply.json()["results"]]
        assert codes == [202, 200 if first == second else 409]
        return
    assert send(fuzz_stack, ledger, orjson.dumps(original)).status_code == 202
    again = send(fuzz_stack, ledger, orjson.dumps(changed))
    assert again.status_code == (200 if first == second else 409)
    if first != second:
        assert again.json()["detail"][0]["loc"] == ["event_id"]


def test_batch_limits(fuzz_stack: Stack, ledger: Ledger) -> None:
    events = [detention(unique(), 1) for _ in range(1001)]
    assert send(fuzz_stack, ledger, orjson.dumps(events), "/v1/events:batch").status_code == 422
    assert send(fuzz_stack, ledger, b"[]", "/v1/events:batch").status_code == 422
    bad_ids = [{**detention(unique(), 1), "event_id": str(uuid.uuid4())[:-1]}]
    assert send(fuzz_stack, ledger, orjson.dumps(bad_ids), "/v1/events:batch").json()[
        "accepted"] == 0


def test_nothing_appended_but_what_was_accepted(fuzz_stack: Stack, ledger: Ledger) -> None:
    """A mix of good, duplicate, conflicting and hostile input: the topic grows by exactly
    the items answered 202 (the module's ledger is checked the same way at teardown)."""
    own = Ledger(before=appended(fuzz_stack))
    good, other = detention(unique(), 3), detention(unique(), 4)
    for body, path in [(orjson.dumps(good), "/v1/events"), (orjson.dumps(good), "/v1/events"),
                       (orjson.dumps({**good, "payload": {"count": 9}}), "/v1/events"),
                       (b'{"event_id": ', "/v1/events"), (b"\xff\xfe", "/v1/events"),
                       (orjson.dumps([other, good, {**other, "type": "no.such"}]),
                        "/v1/events:batch"),
                       (orjson.dumps({**detention(unique(), 1), "source": "x" * MIB}),
                        "/v1/events")]:
        send(fuzz_stack, own, body, path)
    assert own.accepted == 2  # good once, other once: the rest was refused or a duplicate
    assert appended(fuzz_stack) - own.before == own.accepted
    ledger.accepted += own.accepted
