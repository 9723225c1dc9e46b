"""Input checked before queries, and errors answered by whose fault they are."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError

from saylau.store.db import UNAVAILABLE, classify
from saylau.web.errors import install_error_handling
from saylau.web.input import (
    INT4_MAX,
    JSON_INT_MAX,
    Int4,
    Int8,
    RequestBody,
    Text,
    Timestamp,
    parse_cursor,
    rfc3339_timestamp,
)


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.InterfaceError("pool is closing"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InternalClientError("unexpected message"),
    ConnectionRefusedError(111, "refused"),
    TimeoutError(),
])
def test_connection_class_failures_are_unavailable(exc: Exception) -> None:
    assert classify(exc) == "unavailable"


@pytest.mark.parametrize("exc, kind", [
    (asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence 0x00"), "bad_input"),
    (asyncpg.exceptions.DataError("value out of int32 range"), "bad_input"),
    (asyncpg.exceptions.NumericValueOutOfRangeError("out of range"), "bad_input"),
    (asyncpg.exceptions.UniqueViolationError("duplicate key"), "conflict"),
    (asyncpg.exceptions.UndefinedTableError("relation does not exist"), "bug"),
    (asyncpg.exceptions.SyntaxOrAccessError("syntax error"), "bug"),
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), "bug"),
    (KeyError("x"), "bug"),
])
def test_errors_the_request_or_the_code_caused_are_not_unavailable(exc: Exception,
                                                                    kind: str) -> None:
    assert classify(exc) == kind
    assert not isinstance(exc, UNAVAILABLE)


@pytest.mark.parametrize("text", [
    "2021-01-10T15:00:00+06:00", "2021-01-10T09:00:00Z", "2021-01-10t09:00:00.123456z",
    "2021-01-10T15:00:00.5-03:30"])
def test_rfc3339_with_an_offset_is_a_timestamp(text: str) -> None:
    assert rfc3339_timestamp(text).tzinfo is not None


@pytest.mark.parametrize("text", [
    "0.5", "1610269200", "2021-01-10T15:00:00", "2021-01-10", "2021-01-10 15:00:00+06:00",
    "2021-02-30T15:00:00Z", "2021-01-10T25:00:00Z", "0001-01-01T00:00:00+01:00", "",
    "2021-01-10T15:00:00+06:00\x00"])
def test_anything_else_is_not(text: str) -> None:
    with pytest.raises(ValueError):
        rfc3339_timestamp(text)


def test_numbers_are_not_times() -> None:
    with pytest.raises(ValueError):
        rfc3339_timestamp(0.5)
    assert rfc3339_timestamp(datetime(2021, 1, 10, tzinfo=UTC)).year == 2021


@pytest.mark.parametrize("header, expected", [
    ("42", 42), ("9223372036854775807", 2**63 - 1), ("9223372036854775808", 7),
    ("99999999999999999999999", 7), ("-1", 7), ("١٢", 7), ("", 7), (None, 7)])
def test_last_event_id_must_fit_a_bigint(header: str | None, expected: int) -> None:
    assert parse_cursor(header, 7) == expected


class Ref(BaseModel):
    partition: int = Field(ge=0, le=INT4_MAX)
    note: Text | None = None


def demo_app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app)

    @app.get("/search")
    async def search(status: str | None = None, since: Timestamp | None = None,
                     note: Text | None = None) -> dict[str, Any]:
        return {"status": status, "since": since}

    @app.post("/refs")
    async def refs(ref: Ref) -> dict[str, Any]:
        return ref.model_dump()

    @app.get("/boom/{kind}")
    async def boom(kind: str) -> None:
        raise {"down": asyncpg.exceptions.AdminShutdownError("shutdown"),
               "data": asyncpg.exceptions.CharacterNotInRepertoireError("0x00"),
               "dup": asyncpg.exceptions.UniqueViolationError("duplicate"),
               "bug": RuntimeError("a bug")}[kind]

    return app


client = TestClient(demo_app(), raise_server_exceptions=False)


def test_nul_in_the_query_is_422_naming_the_parameter_before_the_route() -> None:
    reply = client.get("/search?status=%00")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "status"]
    assert reply.headers["x-request-id"]
    assert client.get("/boom/%00bug").json()["detail"][0]["loc"] == ["path"]


def test_validators_name_the_parameter() -> None:
    reply = client.get("/search", params={"since": "0.5"})
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["query", "since"]
    assert client.get("/search", params={"since": "2021-01-10T15:00:00+06:00"}).status_code == 200
    surrogate = client.post("/refs", content=b'{"partition": 1, "note": "\\ud800"}',
                            headers={"Content-Type": "application/json"})
    assert surrogate.status_code == 422, surrogate.text
    assert surrogate.json()["detail"][0]["loc"] == ["body", "note"]
    nul = client.post("/refs", json={"partition": 1, "note": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["body", "note"]
    wide = client.post("/refs", json={"partition": 1307674368000})
    assert wide.status_code == 422 and wide.json()["detail"][0]["loc"] == ["body", "partition"]
    huge = client.post("/refs", content=b'{"partition": 31822282104250610745344}',
                       headers={"Content-Type": "application/json"})  # past 64 bits: echoed
    assert huge.status_code == 422, huge.text
    assert huge.json()["detail"][0]["input"] == "31822282104250610745344"
    nested = client.post("/refs", content=b'{"partition": {"a": [-99999999999999999999999]}}',
                         headers={"Content-Type": "application/json"})
    assert nested.status_code == 422, nested.text


def test_database_errors_answered_by_whose_fault(caplog: pytest.LogCaptureFixture) -> None:
    down = client.get("/boom/down")
    assert down.status_code == 503 and down.headers["retry-after"]
    assert client.get("/boom/data").status_code == 422
    assert client.get("/boom/dup").status_code == 409
    with caplog.at_level(logging.ERROR, "saylau.web.service.errors"):
        bug = client.get("/boom/bug", headers={"X-Request-ID": "trace-42"})
    assert bug.status_code == 500
    assert bug.headers["x-request-id"] == "trace-42" and bug.json()["request_id"] == "trace-42"
    assert "trace-42" in caplog.text and "RuntimeError" in caplog.text


def test_an_odd_request_id_is_replaced() -> None:
    reply = client.get("/search", headers={"X-Request-ID": "x" * 500})
    assert reply.status_code == 200 and len(reply.headers["x-request-id"]) == 32


def test_a_plus_lost_in_a_url_is_pointed_out() -> None:
    with pytest.raises(ValueError, match="%2B"):
        rfc3339_timestamp("2021-01-10T15:00:00 06:00")


class StrictRef(RequestBody):
    partition: int = Field(ge=0, le=INT4_MAX)
    all: bool = False


@pytest.mark.parametrize("body, loc", [
    ({"partition": False}, ["body", "partition"]),
    ({"partition": "1"}, ["body", "partition"]),
    ({"partition": 1, "all": 1}, ["body", "all"]),
    ({"partition": 1, "all": "true"}, ["body", "all"]),
])
def test_request_bodies_take_no_lax_coercions(body: dict[str, Any], loc: list[str]) -> None:
    app = FastAPI()
    install_error_handling(app)

    @app.post("/ref")
    async def ref(given: StrictRef) -> dict[str, Any]:
        return given.model_dump()

    client = TestClient(app)
    reply = client.post("/ref", json=body)
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == loc
    assert client.post("/ref", json={"partition": 1, "all": True}).json() == {
        "partition": 1, "all": True}


class WholeRef(RequestBody):
    partition: Int4
    offset: Int8


def test_an_integer_written_with_a_zero_fraction_is_the_integer() -> None:
    """JSON Schema's integer: 5.0 is 5 (a client in JavaScript may send it), 5.5, "5" and
    true are not; a bigint stops at 2**53 - 1, what every JSON client holds exactly."""
    assert WholeRef.model_validate({"partition": 5.0, "offset": 7.0}).partition == 5
    for partition in (5.5, "5", True):
        with pytest.raises(ValidationError):
            WholeRef.model_validate({"partition": partition, "offset": 0})
    with pytest.raises(ValidationError):
        WholeRef.model_validate({"partition": 0, "offset": JSON_INT_MAX + 1})
    schema = WholeRef.model_json_schema()["properties"]
    assert schema["partition"]["maximum"] == INT4_MAX
    assert schema["offset"]["maximum"] == JSON_INT_MAX
