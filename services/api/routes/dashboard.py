"""The dashboard page and its sign-in: the key or password is posted once, never put in a URL.

``POST /v1/session`` takes ``{"key": …}`` or an account's ``{"login": …, "password": …}``
and sets an HttpOnly, SameSite=Strict session cookie (Secure over https) that the read
endpoints and ``/v1/live`` accept for GET, and the writes that say so with the session's CSRF
token (``saylau.web.sessions``); ``DELETE /v1/session`` signs out. An old ``/?key=…`` link signs in once and is redirected
to ``/`` without the key, so it leaves the address bar and the history.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ConfigDict, Field

from saylau.web.contract import errors
from saylau.web.forms import I18N_DIR
from saylau.web.input import RequestBody
from saylau.web.keys import Principal, hash_key
from saylau.web.responses import JSONAnswer
from saylau.web.security import SecurityHeaders
from saylau.web.sessions import COOKIE, LIFETIME, csrf_token
from services.api.deps import ReaderDep

STATIC = Path(__file__).resolve().parents[1] / "static"
SAME_SITE = ("same-origin", "none")
router = APIRouter(tags=["dashboard"])


def one_way(schema: dict[str, Any]) -> None:
    """The document's ``SignIn``: a key, or a login and password, never both; no nulls."""
    for field in schema["properties"].values():
        field.update(next(a for a in field.pop("anyOf") if a.get("type") != "null"))
        field.pop("default", None)
    schema["oneOf"] = [
        {"required": ["key"], "not": {"anyOf": [{"required": ["login"]},
                                                {"required": ["password"]}]}},
        {"required": ["login", "password"], "not": {"required": ["key"]}}]


class SignIn(RequestBody):
    """An API key, or an account's login and password, posted once by the sign-in form."""

    model_config = ConfigDict(strict=True, json_schema_extra=one_way)
    key: str | None = Field(None, min_length=1, max_length=200)
    login: str | None = Field(None, min_length=1, max_length=100)
    password: str | None = Field(None, min_length=1, max_length=200)

    def way(self) -> str:
        """``key`` or ``account``; else 422 naming the field that is missing or too many."""
        account = self.login is not None or self.password is not None
        if self.key is not None and account:
            unwanted("login" if self.login is not None else "password",
                     "send either key, or login and password, not both")
        if self.key is not None:
            return "key"
        for name in ("login", "password"):
            if getattr(self, name) is None:
                unwanted(name, "field required: sign in with key, or login and password")
        return "account"


def unwanted(name: str, why: str) -> None:
    raise HTTPException(422, [{"loc": ["body", name], "msg": why, "type": "value_error"}])


def install(app: FastAPI, ingest_url: str = "") -> None:
    """The dashboard's files and the security headers (the router is included with the
    others; ``app.state.sessions`` is opened by the api's lifespan)."""
    if I18N_DIR.is_dir():  # the language files the observer app shares, at their old URL
        app.mount("/static/i18n", StaticFiles(directory=I18N_DIR), name="i18n")
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders, connect_to=ingest_url)


def with_session(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


def refuse_cross_site(request: Request) -> None:
    """Only the dashboard itself signs in or out (no login CSRF from another site)."""
    fetched_from = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if (fetched_from and fetched_from not in SAME_SITE) or (origin and origin != own):
        raise HTTPException(403, "sign in from the dashboard's own page")


@router.post("/v1/session", responses=errors(
    401, 403, 429, 503,
    s401="unknown or revoked API key; wrong login or password, or a disabled account",
    s403="the key lacks the read scope, or the request came from another site",
    s429="the account is locked out after 5 wrong passwords in a row (15 minutes)",
    s503="PostgreSQL, where keys, accounts and sessions are kept, is unavailable; retry"))
async def sign_in(body: SignIn, request: Request) -> Response:
    """Sign the dashboard in with a key that can read, or an account's login and password;
    sets the HttpOnly session cookie and answers who it is, with the CSRF token."""
    refuse_cross_site(request)
    sessions = request.app.state.sessions
    if body.way() == "key":
        key = (body.key or "").strip()
        principal = await request.app.state.keyring.principal(key)
        if principal is None:
            raise HTTPException(401, "unknown or revoked API key")
        if "read" not in principal.scopes:
            raise HTTPException(403, "this key lacks the 'read' scope")
        token = await sessions.open(key_hash=hash_key(key))
    else:
        principal = await request.app.state.accounts.sign_in(body.login, body.password)
        token = await sessions.open(login=principal.login)
    answer = JSONAnswer({**signed_in_as(principal, token, request),
                         "expires_in": int(LIFETIME.total_seconds())})
    return with_session(answer, request, token)


@router.get("/v1/session")
async def whoami(who: ReaderDep, request: Request) -> Any:
    """Who the dashboard is signed in as (401 when it is not): the account's login, role and
    regions (null: the whole country) or the key's partner, the scopes, the CSRF token its
    writes send as ``X-CSRF-Token``, and where ingest is."""
    return signed_in_as(who, request.cookies.get(COOKIE, ""), request)


def signed_in_as(who: Principal, token: str, request: Request) -> dict[str, Any]:
    """What the dashboard is told about whom it signed in as."""
    return {"partner": who.partner, "scopes": sorted(who.scopes), "login": who.login,
            "role": who.role, "regions": who.reach.filter(),
            "csrf_token": csrf_token(token) if token else None,
            "ingest_url": request.app.state.ingest_url}


@router.delete("/v1/session", status_code=204, responses=errors(
    403, 503, s403="the request came from another site",
    s503="PostgreSQL, where sessions are kept, is unavailable; retry"))
async def sign_out(request: Request) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    refuse_cross_site(request)
    token = request.cookies.get(COOKIE)
    if token:
        await request.app.state.sessions.close(token)
    answer = Response(status_code=204)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                         secure=request.url.scheme == "https")
    return answer


@router.get("/", include_in_schema=False)
async def dashboard(request: Request) -> Response:
    if "key" in request.query_params:
        return await sign_in_from_link(request)
    index = STATIC / "index.html"
    if not index.exists():
        return Response("dashboard not built", status_code=404)
    return Response(index.read_bytes(), media_type="text/html",
                    headers={"Cache-Control": "no-store"})


async def sign_in_from_link(request: Request) -> Response:
    """An old ``/?key=…`` link: sign in (when typed or bookmarked, not from another site),
    then redirect to the same address without the key."""
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "key"]
    answer = RedirectResponse("/" + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
    key = request.query_params["key"].strip()
    principal = await request.app.state.keyring.principal(key) if key else None
    if (principal is None or "read" not in principal.scopes
            or request.headers.get("sec-fetch-site", "none") not in SAME_SITE):
        return answer
    return with_session(answer, request,
                        await request.app.state.sessions.open(key_hash=hash_key(key)))
