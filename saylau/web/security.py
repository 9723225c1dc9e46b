"""Security headers: every answer is nosniff and sends no Referer; the pages and their files
(the api's dashboard, ingest's observer app) also carry a Content-Security-Policy that allows
no inline script and nothing from elsewhere, so an injected ``<script>`` or a stolen page in
a frame does nothing. The app's service worker and manifest fall under ``script-src`` and
``manifest-src`` 'self'; its photo previews are ``data:`` images. The dashboard may also
connect to ingest's origin (``SAYLAU_INGEST_URL``), where it posts triage, and nowhere else."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                 "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                 "manifest-src 'self'; base-uri 'none'; form-action 'self'; "
                 "frame-ancestors 'none'")
EVERYWHERE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
ON_DASHBOARD = {"Content-Security-Policy": DASHBOARD_CSP, "X-Frame-Options": "DENY"}


def dashboard_path(path: str) -> bool:
    """A page or its files: the dashboard's, the observer app's (not /docs, whose page needs
    inline script)."""
    return path in ("/", "/observe") or path.startswith(("/static/", "/observe/"))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; empty when it names none."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def dashboard_csp(connect_to: str = "") -> str:
    """The policy, with ``connect-src`` opened to the origin of ``connect_to`` (a URL) too."""
    extra = origin_of(connect_to)
    return DASHBOARD_CSP.replace("connect-src 'self'", f"connect-src 'self' {extra}".rstrip())


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer (``connect_to``: a URL
    whose origin the pages may fetch from besides their own)."""

    def __init__(self, app: ASGIApp, connect_to: str = "") -> None:
        self.app = app
        self.on_dashboard = {**ON_DASHBOARD, "Content-Security-Policy": dashboard_csp(connect_to)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = {**EVERYWHERE, **(self.on_dashboard if dashboard_path(scope["path"]) else {})}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
