"""SAYLAU_MAP_TILES: without it the dashboard's policy allows images from itself only; with
a tile template, that template's host and no other (the page is served with no database)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from saylau.settings import Settings
from saylau.web.security import DASHBOARD_CSP, dashboard_csp
from services.api.app import create_app


def img_src(policy: str) -> str:
    return next(d for d in policy.split("; ") if d.startswith("img-src"))


def test_without_tiles_the_map_loads_images_from_the_api_alone() -> None:
    assert dashboard_csp(tiles="") == DASHBOARD_CSP
    assert img_src(DASHBOARD_CSP) == "img-src 'self' data:"


def test_a_tile_template_allows_its_host_and_no_other() -> None:
    policy = dashboard_csp(tiles="https://{s}.tiles.centre.kz/osm/{z}/{x}/{y}.png")
    assert img_src(policy) == "img-src 'self' data: https://*.tiles.centre.kz"
    assert policy.replace(" https://*.tiles.centre.kz", "") == DASHBOARD_CSP


def test_the_dashboard_page_carries_the_policy_of_the_setting() -> None:
    tiles = "http://tiles.centre.local:8090/tiles/{z}/{x}/{y}.png"
    page = TestClient(create_app(Settings(saylau_map_tiles=tiles))).get("/")
    assert img_src(page.headers["content-security-policy"]) == (
        "img-src 'self' data: http://tiles.centre.local:8090")
    plain = TestClient(create_app(Settings())).get("/static/map.js")
    assert img_src(plain.headers["content-security-policy"]) == "img-src 'self' data:"


@pytest.mark.parametrize("bad", ["tiles.example.org/{z}/{x}/{y}.png",
                                 "https://tiles.example.org/osm.png",
                                 "javascript:alert(1)//{z}{x}{y}"])
def test_a_setting_that_is_no_tile_template_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="saylau_map_tiles"):
        Settings(saylau_map_tiles=bad)
