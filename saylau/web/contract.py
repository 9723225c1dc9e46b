"""The HTTP contract both services publish: one problem-details schema for every error answer,
and each operation's error statuses, attached to FastAPI's OpenAPI document in one place.

Every 4xx/5xx answer of ingest and the api is a JSON object
``{"detail": <text> | [{"loc": [...], "msg": <text>, "type"?: <text>}], "request_id"?: <text>}``
(``Problem``; more properties may follow). An operation's error statuses are derived from the
route, not written out in every route:

* its dependencies declare what they answer (``answers``): the key check 401 and 403 (and 503,
  the keys live in PostgreSQL), the rate limit 429, the database pool 503, ...;
* a route with parameters or a body answers 422 (FastAPI's validation, the NUL guard), and
  400 when FastAPI reads its body and cannot decode it;
* what only the route knows (a 404 for an id it does not hold, a 409, a 413) it declares with
  ``responses=errors(...)``.

``publish(app)`` wraps ``app.openapi`` so the document says all that, with FastAPI's
``HTTPValidationError`` replaced by ``Problem``.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from saylau.web.sessions import COOKIE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "description": "Every error answer (4xx, 5xx) of this service: what went wrong, as "
                       "text or as a list naming each refused field; more properties may "
                       "be added.",
        "type": "object", "required": ["detail"], "additionalProperties": True,
        "properties": {
            "detail": {"anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"$ref": "#/components/schemas/ProblemItem"}}]},
            "request_id": {"type": "string", "description": "quote it when reporting a 500"},
        },
        "examples": [{"detail": "no event 3f0c8d52-5a43-4c2e-9a59-2f1e8a0c7b11"},
                     {"detail": [{"loc": ["query", "limit"], "msg": "Input should be less "
                                  "than or equal to 1000", "type": "less_than_equal"}]}],
    },
    "ProblemItem": {
        "title": "ProblemItem",
        "description": "One refused value: where (``loc``: body, query, path or header, then "
                       "the field names and array indexes) and why.",
        "type": "object", "required": ["loc", "msg"], "additionalProperties": True,
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                         {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
}
REPLACED = ("HTTPValidationError", "ValidationError")
"""FastAPI's own error schemas: ``Problem`` says the same and also holds the other errors."""
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                               "required": True, "schema": {"type": "string"}}}
HEADERS: dict[int, dict[str, Any]] = {429: RETRY_AFTER, 503: RETRY_AFTER}
DESCRIPTIONS = {
    400: "the body is not what its media type says (not JSON, not UTF-8)",
    401: "no key, or an unknown or revoked one",
    403: "the key lacks the scope this needs",
    404: "no such resource",
    409: "conflicts with what is already recorded",
    413: "the body is too large",
    415: "the body's media type is not one this operation takes",
    422: "a parameter or the body is invalid (each refused value named in ``detail``)",
    429: "the partner's rate limit is spent; retry after ``Retry-After`` seconds",
    503: "a backend (PostgreSQL, Kafka) is unavailable; nothing was done, retry after "
         "``Retry-After`` seconds",
}


@dataclass(frozen=True)
class Answers:
    """What a dependency can answer instead of the route (error statuses), and the ways of
    signing a request it accepts (names of ``SECURITY_SCHEMES``; ``session`` for GET only, unless
    ``session_writes``;
    ``public``: none needed when the api serves reads publicly)."""

    statuses: Mapping[int, str] = field(default_factory=dict)
    schemes: tuple[str, ...] = ()
    public: bool = False
    session_writes: bool = False
    """The ``session`` scheme holds for the route's writes too, not only GET."""


DECLARED: dict[Callable[..., Any], Answers] = {}
"""Each dependency that can refuse a request, and what it answers (``answers``)."""
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "an API key: `Authorization: Bearer <key>`"},
    "session": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                "description": "the dashboard's session (POST /v1/session): every GET; a "
                               "write only where listed, sending the session's `csrf_token` "
                               "(GET /v1/session) as `X-CSRF-Token`, from the dashboard's "
                               "origin"},
    "access_token": {"type": "apiKey", "in": "query", "name": "access_token",
                     "description": "the key in the URL, for clients that cannot send "
                                    "headers (EventSource); it ends up in logs: prefer the "
                                    "header"},
}


def answers(call: Callable[..., Any], statuses: Mapping[int, str],
            schemes: tuple[str, ...] = (), public: bool = False,
            session_writes: bool = False) -> None:
    """Declare that the dependency ``call`` may answer ``statuses`` (status → why) and
    accepts the key by ``schemes``; every operation depending on it documents them."""
    DECLARED[call] = Answers(dict(statuses), schemes, public, session_writes)


def errors(*statuses: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: the error statuses only it can answer, e.g.
    ``errors(404, 409)`` or ``errors(404, s404="no event with this id")``."""
    return {s: {"description": why.get(f"s{s}", DESCRIPTIONS.get(s, HTTPStatus(s).phrase))}
            for s in statuses}


def dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route depends on, sub-dependencies included."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependencies(sub)


def derived(route: RouteContext, method: str, operation: dict[str, Any],
            public_read: bool) -> tuple[dict[int, str], list[dict[str, list[str]]]]:
    """The error statuses (status → why) and security alternatives of one operation."""
    statuses: dict[int, str] = {}
    security: list[dict[str, list[str]]] = []
    for call in dependencies(route.dependant):
        declared = DECLARED.get(call)
        if declared is None:
            continue
        statuses.update(declared.statuses)
        ways = [{name: []} for name in declared.schemes
                if name != "session" or method == "GET" or declared.session_writes]
        ways += [{}] if declared.public and public_read else []
        security += [way for way in ways if way not in security]
    security += [way for way in operation.get("security", []) if way not in security]
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.setdefault(422, DESCRIPTIONS[422])
    if route.body_field is not None:  # FastAPI reads it: bytes that are not UTF-8 are a 400
        statuses.setdefault(400, DESCRIPTIONS[400])
    return statuses, security


NO_NUL = "^[^\\u0000]*$"
"""No NUL: ``saylau.web.errors`` refuses one in any path or query value before routing."""


def without_nul(schema: dict[str, Any]) -> None:
    """A plain string in ``schema`` (a parameter's) documented as holding no NUL."""
    for alternative in schema.get("anyOf", []):
        without_nul(alternative)
    plain = not any(key in schema for key in ("pattern", "format", "enum", "const"))
    if schema.get("type") == "string" and plain:
        schema["pattern"] = NO_NUL


def as_problem(response: dict[str, Any], status: int) -> None:
    """An error response of the document: the one ``Problem`` schema, as JSON."""
    response["content"] = {"application/json": {"schema": dict(PROBLEM_REF)}}
    for name, header in HEADERS.get(status, {}).items():
        response.setdefault("headers", {})[name] = copy.deepcopy(header)


def refine(document: dict[str, Any], routes: list[Any], public_read: bool = False
           ) -> dict[str, Any]:
    """``document`` (FastAPI's) with every operation's error statuses and security, each
    error answer as ``Problem``; FastAPI's validation-error schemas gone."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in REPLACED:
        schemas.pop(name, None)
    schemas.update(copy.deepcopy(SCHEMAS))
    used_schemes: set[str] = set()
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            statuses, security = derived(route, method, operation, public_read)
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query"):
                    without_nul(parameter["schema"])
            responses = operation.setdefault("responses", {})
            for status, why in statuses.items():
                responses.setdefault(str(status), {"description": why})
            for code, response in responses.items():
                if code[:1] in "45":
                    as_problem(response, int(code) if code.isdigit() else 0)
            if security:
                operation["security"] = security
                used_schemes.update(name for way in security for name in way)
    if used_schemes:
        components["securitySchemes"] = {name: SECURITY_SCHEMES[name]
                                          for name in sorted(used_schemes)}
    return document


def publish(app: FastAPI, *steps: Callable[[dict[str, Any]], None]) -> None:
    """Make ``app.openapi()`` the published contract: FastAPI's document, then ``steps``
    (a service's own additions), then ``refine``; built once."""
    generate = app.openapi
    built: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not built:
            document = generate()
            for step in steps:
                step(document)
            built.append(refine(document, app.routes,
                                getattr(app.state, "public_read", False)))
        return built[0]

    app.openapi = openapi  # type: ignore[method-assign]
