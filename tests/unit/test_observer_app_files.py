"""The observer app as ingest serves it (no services started): page, manifest, service worker,
libraries from npm, headers; nothing from another origin; in the container image."""
from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from services.ingest.app import create_app
from services.ingest.routes.observe import APP, VENDOR, shell

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = re.compile(r"""(?:src|href|import|from|fetch\()\s*=?\s*["'`](?:https?:)?//""")


@pytest.fixture(scope="module")
def ingest() -> Iterator[TestClient]:
    yield TestClient(create_app())  # no lifespan: nothing is connected to


def test_the_page_and_its_files_are_served_under_the_pages_policy(ingest: TestClient) -> None:
    page = ingest.get("/observe/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "<script>" not in page.text  # modules only: no inline script
    assert ingest.get("/observe", follow_redirects=False).headers["location"] == "/observe/"
    for url in shell()[0]:
        assert ingest.get(url).status_code == 200, url


def test_the_manifest_makes_it_installable(ingest: TestClient) -> None:
    reply = ingest.get("/observe/manifest.webmanifest")
    assert reply.headers["content-type"] == "application/manifest+json"
    manifest = reply.json()
    assert manifest["start_url"] == manifest["scope"] == "/observe/"
    assert manifest["display"] == "standalone" and manifest["name"]
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(ingest.get(f"/observe/{icon['src']}").content))
        assert (image.format, "x".join(map(str, image.size))) == ("PNG", icon["sizes"])


def test_the_worker_precaches_every_file_of_the_shell(ingest: TestClient) -> None:
    worker = ingest.get("/observe/sw.js")
    assert worker.headers["cache-control"] == "no-cache"
    files, version = shell()
    assert f'const VERSION = "{version}";' in worker.text
    assert f"const SHELL = {json.dumps(files)};" in worker.text
    on_disk = {f"/observe/{p.relative_to(APP).as_posix()}" for p in APP.rglob("*")
               if p.is_file() and p.name != "sw.js"}
    assert on_disk | {"/observe/", "/observe/vendor/idb.js", "/observe/i18n/kk.json",
                      "/observe/i18n/ru.json", "/observe/i18n/en.json"} == set(files)


def test_libraries_come_from_npm_at_set_up_and_nothing_from_elsewhere(
        ingest: TestClient) -> None:
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert "node_modules/idb" in lock["packages"]
    assert VENDOR["idb.js"].is_file(), "run scripts/setup.sh (npm ci in web/)"
    assert "export { deleteDB, openDB" in ingest.get("/observe/vendor/idb.js").text
    sources = [p for p in APP.rglob("*") if p.suffix in (".js", ".html", ".css")]
    assert [p.name for p in sources if ELSEWHERE.search(p.read_text())] == []
    assert "npm ci" in (ROOT / "scripts" / "setup.sh").read_text()


def test_the_image_carries_the_app_and_its_libraries() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY services ./services" in dockerfile  # the app's files
    assert "RUN npm ci" in dockerfile and "COPY --from=web /web/node_modules" in dockerfile
    assert "COPY i18n ./i18n" in dockerfile
