"""The map's GeoJSON over HTTP, against real Kafka and PostgreSQL: an election's stations
with coordinates as points, its regions with live measures, a regional key's share, and a
centre's own boundaries imported with ``saylau map import-regions``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from saylau.domain.calendar import Calendars
from saylau.domain.maps import drawn
from saylau.store.boundaries import shape_table, shipped_polygons
from saylau.web.keys import hash_key
from tests.factories import detention, envelope, stuffing, unique
from tests.stack import ROOT, Stack, execute_sql, wait_until

ELECTION = "kz-2023-03-19"
VOTING_DAY = "2023-03-19T11:00:00+06:00"


def registered(station_id: str, region: str, lon: float | None = None,
               lat: float | None = None) -> dict[str, Any]:
    where = {"lat": lat, "lon": lon} if lat is not None else {}
    return envelope("station.registered", {
        "number": 700, "address": f"School of {station_id}", "region": region,
        "registered_voters": 1500, **where}, station_id=station_id, election_id=ELECTION,
        occurred_at="2023-03-10T10:00:00+06:00", place={"region": region})


def read(stack: Stack, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.api_url}{path}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {key or stack.reader_key}"})


def points(stack: Stack, key: str | None = None, **params: Any) -> dict[str, dict[str, Any]]:
    reply = read(stack, "/v1/map/stations", key, election_id=ELECTION, **params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/geo+json"
    return {f["properties"]["station_id"]: f for f in reply.json()["features"]}


def regions(stack: Stack, key: str | None = None, election: str = ELECTION
            ) -> dict[str, dict[str, Any]]:
    reply = read(stack, "/v1/map/regions", key, election_id=election)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/geo+json"
    assert reply.json()["type"] == "FeatureCollection"
    return {f["properties"]["region"]: f for f in reply.json()["features"]}


def test_stations_with_coordinates_are_points_and_a_bbox_narrows_them(stack: Stack) -> None:
    abai, pavlodar, nowhere = unique("PS-AB"), unique("PS-PV"), unique("PS-NC")
    assert stack.post_batch([registered(abai, "Abai", 80.25, 50.42),
                             registered(pavlodar, "Pavlodar", 76.95, 52.29),
                             registered(nowhere, "Pavlodar")]).status_code in (200, 202, 207)
    shown = wait_until(lambda: (p := points(stack)) and abai in p and pavlodar in p and p)
    assert nowhere not in shown, "a station without coordinates is not a point"
    assert shown[abai]["geometry"] == {"type": "Point", "coordinates": [80.25, 50.42]}
    assert shown[abai]["properties"] == {"station_id": abai, "number": 700,
                                         "address": f"School of {abai}", "open_breaches": 0,
                                         "last_report_at": None}
    east = points(stack, bbox="78,49,82,51")
    assert abai in east and pavlodar not in east
    across = points(stack, bbox="78,49,-170,60")  # west > east: across the antimeridian
    assert abai in across and pavlodar not in across


def test_a_malformed_bbox_is_a_422_naming_bbox(stack: Stack) -> None:
    for bad in ("1,2,3", "a,b,c,d", "10,60,20,50", "0,-95,10,10", "nan,1,2,3", "181,0,10,10"):
        reply = stack.get("/v1/map/stations", election_id=ELECTION, bbox=bad)
        assert reply.status_code == 422, (bad, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["query", "bbox"], bad
    assert stack.get("/v1/map/stations", election_id="kz-1999").status_code == 422


def test_every_region_is_a_feature_and_follows_detentions_breaches_and_reports(
        stack: Stack) -> None:
    station = unique("PS-AB")
    assert stack.post(registered(station, "Abai", 80.5, 50.5)).status_code == 202
    wait_until(lambda: station in points(stack))
    before = regions(stack)
    assert sorted(before) == sorted(Calendars.load().get(ELECTION).regions)
    assert before["Pavlodar"]["properties"]["drawn_as"] == "boundary"
    assert before["Abai"]["properties"]["drawn_as"] == "circle"
    assert before["Abai"]["geometry"]["type"] == "Polygon"
    assert before["Abai"]["properties"]["stations"] >= 1
    city = unique("Ekibastuz")
    assert stack.post(detention(city, 7, region="Pavlodar")).status_code == 202
    assert stack.post(stuffing(station, place={"region": "Abai", "city": "Semey"},
                               occurred_at=VOTING_DAY, election_id=ELECTION)).status_code == 202

    def moved() -> dict[str, dict[str, Any]] | None:
        now = regions(stack)
        p, a = now["Pavlodar"]["properties"], now["Abai"]["properties"]
        return now if (p["detained_now"] == before["Pavlodar"]["properties"]["detained_now"] + 7
                       and a["reports_last_hour"] > before["Abai"]["properties"][
                           "reports_last_hour"]) else None
    wait_until(moved)
    point = points(stack)[station]["properties"]
    assert point["last_report_at"] is not None
    assert "silent_stations" in before["Abai"]["properties"]


def test_a_regional_key_gets_only_its_regions(stack: Stack) -> None:
    key = "rk_" + unique("pavlodar")
    execute_sql(f"INSERT INTO \"{stack.env['INGEST_SCHEMA']}\".api_keys "
                f"(key_hash, partner, scopes, regions) VALUES ('{hash_key(key)}', "
                "'pavlodar-desk', '{read}', '{Pavlodar}')")
    abai, pavlodar = unique("PS-AB"), unique("PS-PV")
    assert stack.post_batch([registered(abai, "Abai", 80.2, 50.4),
                             registered(pavlodar, "Pavlodar", 76.9, 52.3)]).status_code < 300
    wait_until(lambda: abai in points(stack) and pavlodar in points(stack))
    assert list(regions(stack, key)) == ["Pavlodar"]
    mine = points(stack, key)
    assert pavlodar in mine and abai not in mine


def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    cli = "import sys; from saylau.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", cli, *args], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=120, check=False)


def own_boundaries(election: str, leave_out: str | None = None) -> dict[str, Any]:
    """A centre's file: every region of ``election`` (named in Russian where the election
    lists it so), drawn as the shipped table draws it."""
    table = shape_table().elections[election]
    names = Calendars.load().get(election).regions
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": (names[r][-1] if names[r] else r)},
         "geometry": drawn(table[r], shipped_polygons(), None)[0]}
        for r in table if r != leave_out]}


def test_a_centre_imports_its_own_boundaries_and_a_file_that_does_not_fit_is_refused(
        own_stack: Stack, tmp_path: Path) -> None:
    """On a stack of its own: the other tests' maps keep the shipped boundaries."""
    stack, election = own_stack.start(), "kz-2021-01-10"
    short = tmp_path / "short.geojson"
    short.write_text(json.dumps(own_boundaries(election, leave_out="Shymkent")))
    refused = saylau(stack, "map", "import-regions", str(short), "--election", election)
    assert refused.returncode == 2, refused
    assert "no feature for Shymkent" in refused.stderr and "nothing imported" in refused.stderr
    assert regions(stack, election=election)["Shymkent"]["properties"]["drawn_as"] == "circle"
    whole = tmp_path / "centre.geojson"
    whole.write_text(json.dumps(own_boundaries(election)))
    done = saylau(stack, "map", "import-regions", str(whole), "--election", election)
    assert done.returncode == 0, done.stderr
    assert "17 regions" in done.stdout
    served = regions(stack, election=election)
    assert {f["properties"]["drawn_as"] for f in served.values()} == {"imported"}
    assert served["Turkistan"]["geometry"] == shipped_polygons()["South Kazakhstan"]
