"""The session cookie stands in for a key for reading, and for a route's writes only with the
session's CSRF token from an allowed origin; security headers on every answer."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from saylau.web.keys import KeyRing, Principal, hash_key
from saylau.web.security import SecurityHeaders, dashboard_csp
from saylau.web.service import allow_cors, require
from saylau.web.sessions import COOKIE, Session, csrf_token, session_hash

Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Triager = Annotated[Principal, Depends(require("triage", sessions=True))]
DASHBOARD = "http://dashboard.test"


class InMemorySessions:
    def __init__(self, sessions: dict[str, str]) -> None:
        self.sessions = sessions

    async def find(self, token: str) -> Session | None:
        digest = self.sessions.get(token)
        return Session(digest, None, session_hash(csrf_token(token))) if digest else None


def app_with_session() -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeaders)
    allow_cors(app, "", DASHBOARD)
    app.state.keyring = KeyRing({hash_key("k-read"): Principal("centre", frozenset({"read"})),
                                 hash_key("k-admin"): Principal("ops", frozenset({"admin"})),
                                 hash_key("k-triage"): Principal("desk", frozenset(
                                     {"read", "triage"}))}, None)
    app.state.sessions = InMemorySessions({"tok-read": hash_key("k-read"),
                                           "tok-admin": hash_key("k-admin"),
                                           "tok-triage": hash_key("k-triage"),
                                           "tok-revoked": hash_key("k-gone")})
    @app.get("/v1/read")
    async def read(who: Reader) -> dict[str, str]:
        return {"partner": who.partner}

    @app.post("/v1/read")
    async def write(who: Reader) -> dict[str, str]:
        return {"partner": who.partner}

    @app.post("/v1/triage")
    async def triage(who: Triager) -> dict[str, str]:
        return {"partner": who.partner}

    @app.get("/v1/admin")
    async def administer(who: Admin) -> dict[str, str]:
        return {"partner": who.partner}

    @app.get("/")
    async def page() -> dict[str, str]:
        return {}

    return app


client = TestClient(app_with_session())


def get(path: str, token: str) -> int:
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    return client.get(path).status_code


def test_a_session_reads() -> None:
    assert get("/v1/read", "tok-read") == 200


def test_a_session_does_nothing_but_read() -> None:
    assert get("/v1/admin", "tok-admin") == 401  # admin needs the key itself
    client.cookies.set(COOKIE, "tok-read")
    assert client.post("/v1/read").status_code == 401  # no writes on a cookie (CSRF)
    assert get("/v1/read", "tok-admin") == 401  # a key without the read scope


def test_unknown_or_revoked_sessions_are_refused() -> None:
    assert get("/v1/read", "nope") == 401
    assert get("/v1/read", "tok-revoked") == 401  # its key was revoked


def test_every_answer_is_nosniff_and_refererless_the_dashboard_has_a_csp() -> None:
    client.cookies.clear()
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    api = client.get("/v1/read")
    assert api.status_code == 401 and api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in client.get("/docs").headers  # Swagger's inline JS


def post_triage(token: str, headers: dict[str, str]) -> int:
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    return client.post("/v1/triage", headers=headers).status_code


def test_a_session_write_needs_its_csrf_token_and_an_allowed_origin() -> None:
    token = csrf_token("tok-triage")
    assert post_triage("tok-triage", {}) == 403  # no token
    assert post_triage("tok-triage", {"X-CSRF-Token": csrf_token("tok-read")}) == 403
    assert post_triage("tok-triage", {"X-CSRF-Token": token,
                                      "Origin": "http://evil.test"}) == 403
    assert post_triage("tok-triage", {"X-CSRF-Token": token, "Origin": DASHBOARD}) == 200
    assert post_triage("tok-triage", {"X-CSRF-Token": token,
                                      "Origin": "http://testserver"}) == 200  # its own
    assert post_triage("tok-triage", {"X-CSRF-Token": token}) == 200  # no Origin: not a browser


def test_a_session_write_needs_the_scope_and_a_live_session() -> None:
    assert post_triage("tok-read", {"X-CSRF-Token": csrf_token("tok-read")}) == 403
    assert post_triage("nope", {"X-CSRF-Token": csrf_token("nope")}) == 401
    client.cookies.clear()
    keyed = client.post("/v1/triage", headers={"Authorization": "Bearer k-triage"})
    assert keyed.status_code == 200  # the key path needs no CSRF token


def test_the_dashboard_origin_gets_cors_with_credentials_and_the_csrf_header() -> None:
    client.cookies.clear()
    preflight = client.options("/v1/triage", headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-csrf-token,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in preflight.headers["access-control-allow-headers"].lower()


def test_the_csp_connects_to_ingest_origin_only() -> None:
    policy = dashboard_csp("http://127.0.0.1:8080/v1/ignored?x=1")
    assert "connect-src 'self' http://127.0.0.1:8080;" in policy
    assert dashboard_csp("") == dashboard_csp("not a url")
    assert "connect-src 'self';" in dashboard_csp("")
