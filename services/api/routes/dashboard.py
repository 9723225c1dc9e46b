"""The dashboard page and its sign-in: the key is posted once, never put in a URL.

``POST /v1/session`` takes ``{"key": …}`` and sets an HttpOnly, SameSite=Strict session
cookie (Secure over https) that the read endpoints and ``/v1/live`` accept for GET;
``DELETE /v1/session`` signs out. An old ``/?key=…`` link signs in once and is redirected
to ``/`` without the key, so it leaves the address bar and the history.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field

from saylau.web.contract import errors
from saylau.web.forms import I18N_DIR
from saylau.web.input import RequestBody
from saylau.web.keys import hash_key
from saylau.web.responses import JSONAnswer
from saylau.web.security import SecurityHeaders
from saylau.web.sessions import COOKIE, LIFETIME
from services.api.deps import ReaderDep

STATIC = Path(__file__).resolve().parents[1] / "static"
SAME_SITE = ("same-origin", "none")
router = APIRouter(tags=["dashboard"])


class SignIn(RequestBody):
    """The API key, posted once by the sign-in form."""

    key: str = Field(min_length=1, max_length=200)


def install(app: FastAPI, map_tiles: str = "") -> None:
    """The dashboard's files and the security headers (the router is included with the
    others; ``app.state.sessions`` is opened by the api's lifespan); ``map_tiles``: the map's
    tile template, whose host the page may load images from."""
    if I18N_DIR.is_dir():  # the language files the observer app shares, at their old URL
        app.mount("/static/i18n", StaticFiles(directory=I18N_DIR), name="i18n")
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders, map_tiles=map_tiles)


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
    401, 403, 503, s401="unknown or revoked API key",
    s403="the key lacks the read scope, or the request came from another site",
    s503="PostgreSQL, where keys and sessions are kept, is unavailable; retry"))
async def sign_in(body: SignIn, request: Request) -> Response:
    """Sign the dashboard in with a key that can read; sets the HttpOnly session cookie."""
    refuse_cross_site(request)
    principal = await request.app.state.keyring.principal(body.key.strip())
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key")
    if "read" not in principal.scopes:
        raise HTTPException(403, "this key lacks the 'read' scope")
    token = await request.app.state.sessions.open(hash_key(body.key.strip()))
    answer = JSONAnswer({"partner": principal.partner, "scopes": sorted(principal.scopes),
                             "expires_in": int(LIFETIME.total_seconds())})
    return with_session(answer, request, token)


@router.get("/v1/session")
async def whoami(who: ReaderDep) -> Any:
    """Who the dashboard is signed in as (401 when it is not)."""
    return {"partner": who.partner, "scopes": sorted(who.scopes)}


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
    return with_session(answer, request, await request.app.state.sessions.open(hash_key(key)))
