"""The published contract: every error answer of both services is one problem-details schema,
each operation lists the statuses it can answer, and a 405 names every method of its path."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from saylau.web.keys import KeyRing, parse_env_keys
from saylau.web.service import problem, unavailable
from services.api.app import create_app as api
from services.ingest.app import create_app as ingest

PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def apps() -> dict[str, FastAPI]:
    built = {"ingest": ingest(), "api": api()}
    for app in built.values():  # keys without the lifespan's database: env keys only
        app.state.keyring = KeyRing(parse_env_keys("reader:rk:read,writer:ik:ingest"), None)
    built["api"].state.wiring = SimpleNamespace(pool=None)  # refused before any query
    return built


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def problem_validator(document: dict[str, Any]) -> Draft202012Validator:
    """Validates a body against the document's ``Problem`` (refs resolved in the document)."""
    return Draft202012Validator({**document, "$ref": "#/components/schemas/Problem"})


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_every_error_answer_is_the_one_problem_schema(apps: dict[str, FastAPI],
                                                      service: str) -> None:
    document = apps[service].openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    errors = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                errors += 1
                assert response["content"] == PROBLEM, (method, path, status)
                assert response["description"], (method, path, status)
    assert errors > 50


def statuses(document: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(s) for s in document["paths"][path][method.lower()]["responses"]}


def test_statuses_are_derived_from_each_route(apps: dict[str, FastAPI]) -> None:
    ingest_doc, api_doc = apps["ingest"].openapi(), apps["api"].openapi()
    # key check: 401, 403, 503 (keys are in PostgreSQL); rate limit 429; body 422; declared
    assert statuses(ingest_doc, "POST", "/v1/events") == {
        200, 202, 400, 401, 403, 409, 413, 415, 422, 429, 503}
    assert statuses(ingest_doc, "GET", "/healthz") == {200}
    assert statuses(api_doc, "GET", "/v1/events/{event_id}") == {200, 401, 403, 404, 422, 503}
    # a path parameter is a 404 only where the route can answer one
    assert 404 not in statuses(api_doc, "GET", "/v1/stations/{station_id}/incidents")
    assert statuses(api_doc, "GET", "/v1/breaches/summary") == {200, 401, 403, 503}
    assert statuses(api_doc, "POST", "/v1/session") == {200, 400, 401, 403, 422, 429, 503}
    for method, path, operation in operations(api_doc):
        if "security" in operation:
            assert {401, 403} <= statuses(api_doc, method, path), (method, path)
        if operation.get("parameters") or operation.get("requestBody"):
            assert 422 in statuses(api_doc, method, path), (method, path)
    assert api_doc["paths"]["/v1/session"]["get"]["security"] == [{"bearer": []},
                                                                  {"session": []}]
    assert api_doc["paths"]["/v1/webhooks"]["post"]["security"] == [{"bearer": []}]
    # the dashboard's session writes where a route takes it (with its CSRF token)
    assert ingest_doc["paths"]["/v1/events"]["post"]["security"] == [{"bearer": []},
                                                                     {"session": []}]
    assert ingest_doc["paths"]["/v1/events:batch"]["post"]["security"] == [{"bearer": []}]


def test_a_405_names_every_method_of_its_path(apps: dict[str, FastAPI]) -> None:
    answers = {}
    for service, method, path in [("api", "OPTIONS", "/v1/session"),
                                  ("api", "PUT", "/v1/webhooks"),
                                  ("api", "POST", f"/v1/webhooks/{uuid.uuid4()}"),
                                  ("ingest", "GET", "/v1/events"),
                                  ("ingest", "DELETE", "/v1/channels/sms")]:
        answer = TestClient(apps[service]).request(method, path)
        assert answer.status_code == 405, (method, path, answer.text)
        assert not list(problem_validator(apps[service].openapi()).iter_errors(answer.json()))
        answers[(method, path)] = answer.headers["allow"]
    assert list(answers.values()) == ["DELETE, GET, POST", "GET, POST", "DELETE", "POST",
                                      "POST"]


def test_error_bodies_match_the_problem_schema(apps: dict[str, FastAPI]) -> None:
    document = apps["api"].openapi()
    client = TestClient(apps["api"])
    valid = problem_validator(document)
    reader, writer = {"Authorization": "Bearer rk"}, {"Authorization": "Bearer ik"}
    sent = [client.get("/v1/stations"),  # 401, no key
            client.get("/v1/stations", headers=writer),  # 403, wrong scope
            client.get("/v1/evidence/not-a-digest", headers=reader),  # 422 by FastAPI
            client.get("/v1/stations?region=a%00b"),  # 422 by the NUL guard
            client.get("/nowhere"),  # 404 of no route
            client.post("/v1/session", content=b'{"key": "\xff"}', headers={
                "Content-Type": "application/json"})]  # 400: not UTF-8
    assert [answer.status_code for answer in sent] == [401, 403, 422, 422, 404, 400]
    for answer in sent:
        assert answer.headers["content-type"] == "application/json", answer.text
        assert not list(valid.iter_errors(answer.json())), answer.text
    assert sent[2].json()["detail"][0]["loc"] == ["path", "sha256"]
    for made in (problem(409, "taken"), problem(422, [{"loc": ["body"], "msg": "no"}]),
                 unavailable("down")):
        assert not list(valid.iter_errors(orjson.loads(made.body)))
