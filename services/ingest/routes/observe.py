"""The observer app at ``/observe/``: an installable web app that works with no network.

Its page, modules, manifest and icons are files (``services/ingest/observe/``); the
language files are the ones the dashboard reads (``i18n/``, keys ``observe.*``) and the
IndexedDB wrapper comes from npm (``web/node_modules``, installed by ``scripts/setup.sh``). The service worker is served with
the list of those files and a hash of their content, so it precaches exactly the shell this
ingest serves and a new deployment is a new worker. None of it is in the OpenAPI document.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from saylau.web.forms import I18N_DIR
from saylau.web.security import SecurityHeaders

APP = Path(__file__).resolve().parents[1] / "observe"
LIBRARIES = Path(__file__).resolve().parents[3] / "web" / "node_modules"
"""Where ``npm ci --prefix web`` (``scripts/setup.sh``, the image's first stage) installs."""
PREFIX = "/observe/"
WORKER = "sw.js"
VENDOR = {"idb.js": LIBRARIES / "idb" / "build" / "index.js"}
"""The npm files the app imports, by the name it imports them under (``vendor/<name>``)."""
NO_CACHE = {"Cache-Control": "no-cache"}

mimetypes.add_type("application/manifest+json", ".webmanifest")
router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """The app's routes, its files and the security headers (CSP without inline script)."""
    app.include_router(router)
    app.mount("/observe/i18n", StaticFiles(directory=I18N_DIR), name="observe-i18n")
    app.mount("/observe", StaticFiles(directory=APP, html=True), name="observe")
    app.add_middleware(SecurityHeaders)


@router.get("/observe")
async def without_slash() -> Response:
    return RedirectResponse(PREFIX, status_code=308)


@router.get("/observe/sw.js")
async def service_worker() -> Response:
    """The service worker, told which files make the shell and which version they are."""
    files, version = shell()
    script = (APP / WORKER).read_text().replace('"__SHELL_VERSION__"', json.dumps(version))
    script = script.replace('["__SHELL_FILES__"]', json.dumps(files))
    return Response(script, media_type="text/javascript", headers=NO_CACHE)


@router.get("/observe/vendor/{name}")
async def vendor(name: str) -> Response:
    """A library from npm; 503 when the set-up has not installed it (``npm ci`` in web/)."""
    path = VENDOR.get(name)
    if path is None:
        raise HTTPException(404, "no such library")
    if not path.is_file():
        raise HTTPException(503, f"{name} is not installed: run scripts/setup.sh (npm ci in web/)")
    return FileResponse(path, media_type="text/javascript")


@cache
def shell() -> tuple[list[str], str]:
    """The URLs the worker precaches and a hash of their bytes (read once per process)."""
    served = {PREFIX: APP / "index.html"}
    served |= {PREFIX + p.relative_to(APP).as_posix(): p for p in sorted(APP.rglob("*"))
               if p.is_file() and p.name != WORKER}
    served |= {f"{PREFIX}i18n/{p.name}": p for p in sorted(I18N_DIR.glob("*.json"))}
    served |= {f"{PREFIX}vendor/{name}": p for name, p in VENDOR.items()}
    digest = hashlib.sha256()
    for url, path in served.items():
        digest.update(url.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return list(served), digest.hexdigest()[:16]
