"""The session cookie stands in for a key only for reading; security headers on every answer."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from saylau.web.keys import KeyRing, Principal, hash_key
from saylau.web.security import SecurityHeaders
from saylau.web.service import require
from saylau.web.sessions import COOKIE

Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]


class InMemorySessions:
    def __init__(self, sessions: dict[str, str]) -> None:
        self.sessions = sessions

    async def key_hash(self, token: str) -> str | None:
        return self.sessions.get(token)


def app_with_session() -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeaders)
    app.state.keyring = KeyRing({hash_key("k-read"): Principal("centre", frozenset({"read"})),
                                 hash_key("k-admin"): Principal("ops", frozenset({"admin"}))},
                                None)
    app.state.sessions = InMemorySessions({"tok-read": hash_key("k-read"),
                                           "tok-admin": hash_key("k-admin"),
                                           "tok-revoked": hash_key("k-gone")})
    @app.get("/v1/read")
    async def read(who: Reader) -> dict[str, str]:
        return {"partner": who.partner}

    @app.post("/v1/read")
    async def write(who: Reader) -> dict[str, str]:
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
