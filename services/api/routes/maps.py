"""The map: an election's regions and stations as GeoJSON, and the map library's files.

Leaflet and its marker-cluster plugin come from npm (``web/node_modules``, installed by
``scripts/setup.sh``) and are served here, like every file of the dashboard: the map draws
with no tile server and no CDN (``SAYLAU_MAP_TILES`` adds a background where a centre has
one). A principal bound to regions gets only her regions' features and stations.
"""
from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from saylau.readmodels import maps as map_reads
from saylau.store.boundaries import LIBRARIES
from saylau.web.contract import errors
from services.api.deps import PoolDep, ReadAnswer, ReaderDep, SettingsDep
from services.api.routes.coverage import ElectionQuery, election_named

router = APIRouter(tags=["map"])
GEOJSON = "application/geo+json"
VENDOR: dict[str, tuple[Path, str]] = {
    "leaflet.js": (LIBRARIES / "leaflet/dist/leaflet.js", "text/javascript"),
    "leaflet.css": (LIBRARIES / "leaflet/dist/leaflet.css", "text/css"),
    "markercluster.js": (LIBRARIES / "leaflet.markercluster/dist/leaflet.markercluster.js",
                         "text/javascript"),
    "MarkerCluster.css": (LIBRARIES / "leaflet.markercluster/dist/MarkerCluster.css",
                          "text/css"),
    "MarkerCluster.Default.css": (
        LIBRARIES / "leaflet.markercluster/dist/MarkerCluster.Default.css", "text/css"),
}
"""The npm files the dashboard's map loads, by the name it loads them under
(``/static/vendor/<name>``)."""


class GeoJSONAnswer(ReadAnswer):
    media_type = GEOJSON


COMPRESS_FROM = 1024
"""Answers this long or longer are gzipped for clients that accept it (10,000 stations:
about 2.2 MB of GeoJSON, 0.25 MB gzipped at level 1 in about 30 ms)."""


async def geojson_answer(request: Request, body: bytes) -> Response:
    """``body`` as GeoJSON, gzipped (level 1, off the event loop) when the client takes it."""
    headers = {"Vary": "Accept-Encoding"}
    if len(body) >= COMPRESS_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        body = await asyncio.to_thread(gzip.compress, body, 1)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=GEOJSON, headers=headers)


def geojson(description: str, properties: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a GeoJSON read: its 200 in ``application/geo+json``, a
    FeatureCollection whose features carry ``properties``."""
    feature = {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"const": "Feature"}, "geometry": {"type": ["object", "null"]},
        "properties": {"type": "object", "required": sorted(properties),
                       "properties": properties}}}
    return {200: {"description": description, "content": {GEOJSON: {"schema": {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array", "items": feature}}}}}}}


COUNT = {"type": "integer", "minimum": 0}
REGION_PROPERTIES = {
    "region": {"type": "string"},
    "drawn_as": {"enum": ["boundary", "circle", "imported", "none"]},
    "stations": COUNT, "detained_now": COUNT, "open_breaches": COUNT,
    "reports_last_hour": COUNT, "silent_stations": COUNT}
STATION_PROPERTIES = {
    "station_id": {"type": "string"}, "number": {"type": ["integer", "null"]},
    "address": {"type": ["string", "null"]}, "open_breaches": COUNT,
    "last_report_at": {"type": ["string", "null"], "format": "date-time"}}


NUMBER = r"-?\d{1,3}(\.\d{1,12})?"
BboxQuery = Annotated[str | None, Query(
    max_length=80, pattern=f"^{NUMBER}(,{NUMBER}){{3}}$",
    description="only stations within this box: `west,south,east,north` in degrees (WGS 84; "
                "longitudes within -180..180, latitudes within -90..90, south ≤ north; "
                "west > east: a box across the antimeridian, as RFC 7946 reads a bbox)")]


def parse_bbox(bbox: str | None) -> list[float] | None:
    """``[west, south, east, north]``, or 422 naming ``bbox`` (its form is the pattern's)."""
    if bbox is None:
        return None
    box = [float(part) for part in bbox.split(",")]
    if all(-180 <= box[i] <= 180 for i in (0, 2)) and -90 <= box[1] <= box[3] <= 90:
        return box
    raise HTTPException(422, [{"loc": ["query", "bbox"], "type": "value_error", "msg": (
        f"longitudes within -180..180, latitudes within -90..90 and south ≤ north expected, "
        f"got {bbox!r}")}])


@router.get("/v1/map/regions", response_class=GeoJSONAnswer, responses={
    **geojson("one feature per region of the election", REGION_PROPERTIES),
    **errors(422, s422="unknown election_id (or none running now), or a bad parameter")})
async def get_map_regions(request: Request, db: PoolDep, who: ReaderDep, cfg: SettingsDep,
                          election_id: ElectionQuery = None) -> Response:
    """The election's regions as a GeoJSON FeatureCollection: boundaries (imported, Natural
    Earth, or a circle: ``drawn_as``) and ``stations``, ``detained_now``, ``open_breaches``,
    ``reports_last_hour``, ``silent_stations``; ``tiles``: the background's tile URL template
    (``SAYLAU_MAP_TILES``), null for none."""
    now = datetime.now(UTC)
    election = election_named(election_id, now)
    async with db.acquire() as conn:
        found = await map_reads.regions(conn, election, who.reach.filter(), now,
                                        cfg.saylau_silent_minutes, cfg.ingest_schema)
    return await geojson_answer(request, orjson.dumps(
        {**found, "tiles": cfg.saylau_map_tiles or None}))


@router.get("/v1/map/stations", response_class=GeoJSONAnswer, responses={
    **geojson("a point per station of the election with coordinates", STATION_PROPERTIES),
    **errors(422, s422="unknown election_id (or none running now), a malformed bbox, or a "
                       "bad parameter")})
async def get_map_stations(request: Request, db: PoolDep, who: ReaderDep,
                           election_id: ElectionQuery = None, bbox: BboxQuery = None
                           ) -> Response:
    """The election's registered stations that have coordinates, as GeoJSON points with
    ``station_id``, ``number``, ``address``, ``open_breaches``, ``last_report_at``."""
    box = parse_bbox(bbox)
    election = election_named(election_id, datetime.now(UTC))
    async with db.acquire() as conn:
        found = await map_reads.stations(conn, election.id, who.reach.filter(), box)
    return await geojson_answer(request, orjson.dumps(found))


@router.get("/static/vendor/{name}", include_in_schema=False)
async def vendor(name: str) -> Response:
    """A map library file from npm; 503 when the set-up has not installed it."""
    path, media_type = VENDOR.get(name, (None, ""))
    if path is None:
        raise HTTPException(404, "no such library")
    if not path.is_file():
        raise HTTPException(503, f"{name} is not installed: run scripts/setup.sh (npm ci in web/)")
    return FileResponse(path, media_type=media_type)
