"""The map's regions: which shape draws each canonical region of an election. Pure.

Shapes come from the shape table (``maps/region_shapes.yaml``): a region is drawn with a
Natural Earth admin-1 polygon named there, or, where that source has none (Shymkent, Abai,
Jetisu, Ulytau: newer than its boundaries), as a circle around its stations' centroid or a
fixed point. A centre's own boundaries (``saylau map import-regions``) replace the table for
an election; ``check_boundaries`` says what in such a file does not match the election.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from saylau.domain.regions import alias_index, canonical_region

SHAPE_TABLE = Path(__file__).resolve().parents[2] / "maps" / "region_shapes.yaml"
POLYGONAL = ("Polygon", "MultiPolygon")
DIGITS = 4
"""Coordinates are served to 4 decimals (about 10 m): finer than any boundary drawn."""
Geometry = dict[str, Any]


@dataclass(frozen=True)
class Shape:
    """How one region is drawn: ``feature`` (a Natural Earth name), else a circle around its
    stations' centroid or ``at`` ((lon, lat)), ``radius_km`` wide."""

    feature: str | None = None
    at: tuple[float, float] | None = None
    radius_km: float = 25.0


@dataclass(frozen=True)
class ShapeTable:
    """The shape table: where the boundaries are and each election's regions' shapes."""

    package_file: str
    object: str
    name_property: str
    source: str
    elections: Mapping[str, Mapping[str, Shape]]


def load_shape_table(path: Path = SHAPE_TABLE) -> ShapeTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    b = data["boundaries"]
    return ShapeTable(b["package_file"], b["object"], b["name_property"], b["source"],
                      {e: {r: _shape(v) for r, v in regions.items()}
                       for e, regions in data["elections"].items()})


def _shape(value: Any) -> Shape:
    if isinstance(value, str):
        return Shape(feature=value)
    circle = value["circle"]
    at = circle.get("at")
    return Shape(at=(float(at[0]), float(at[1])) if at else None,
                 radius_km=float(circle.get("radius_km", 25.0)))


def decode_topology(topology: Mapping[str, Any], name: str,
                    name_property: str) -> dict[str, Geometry]:
    """A TopoJSON object's polygonal features as GeoJSON geometries, by feature name."""
    transform = topology.get("transform")
    arcs = [_absolute(arc, transform) for arc in topology["arcs"]]
    found: dict[str, Geometry] = {}
    for g in topology["objects"][name]["geometries"]:
        label = (g.get("properties") or {}).get(name_property)
        if label and g["type"] == "Polygon":
            found[label] = {"type": "Polygon", "coordinates": _polygon(g["arcs"], arcs)}
        elif label and g["type"] == "MultiPolygon":
            found[label] = {"type": "MultiPolygon",
                            "coordinates": [_polygon(p, arcs) for p in g["arcs"]]}
    return found


def _absolute(arc: list[list[float]], transform: Mapping[str, Any] | None) -> list[list[float]]:
    """A quantized arc (deltas) as positions; an arc of a topology without transform as is."""
    if not transform:
        return arc
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    x = y = 0.0
    points = []
    for dx, dy, *_ in arc:
        x, y = x + dx, y + dy
        points.append([round(x * sx + tx, DIGITS), round(y * sy + ty, DIGITS)])
    return points


def _polygon(rings: list[list[int]], arcs: list[list[list[float]]]) -> list[list[list[float]]]:
    return [_ring(ring, arcs) for ring in rings]


def _ring(indexes: list[int], arcs: list[list[list[float]]]) -> list[list[float]]:
    """Arcs joined into a ring; a negative index ``~i`` is arc ``i`` reversed, and each arc
    after the first starts where the previous ended (its first point dropped)."""
    ring: list[list[float]] = []
    for i in indexes:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(points[1:] if ring else points)
    return ring


def circle(lon: float, lat: float, radius_km: float, sides: int = 32) -> Geometry:
    """A polygon approximating a circle of ``radius_km`` around (lon, lat)."""
    dlat = radius_km / 111.32
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    ring = [[round(lon + dlon * math.cos(2 * math.pi * k / sides), DIGITS),
             round(lat + dlat * math.sin(2 * math.pi * k / sides), DIGITS)]
            for k in range(sides)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def centroid(points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """The mean (lon, lat) of ``points``; None when there are none."""
    listed = list(points)
    if not listed:
        return None
    return (sum(p[0] for p in listed) / len(listed), sum(p[1] for p in listed) / len(listed))


def drawn(shape: Shape | None, polygons: Mapping[str, Geometry],
          stations_centre: tuple[float, float] | None) -> tuple[Geometry | None, str]:
    """A region's geometry from the table, and how it is drawn: ``boundary`` (a polygon),
    ``circle`` (around its stations' centroid, else the table's point) or ``none``."""
    if shape is not None and shape.feature and shape.feature in polygons:
        return polygons[shape.feature], "boundary"
    centre = stations_centre or (shape.at if shape else None)
    if centre is None:
        return None, "none"
    return circle(*centre, shape.radius_km if shape else Shape().radius_km), "circle"


class BoundaryError(ValueError):
    """An imported boundaries file that does not fit the election; the text says what."""


def check_boundaries(document: Any, regions: Mapping[str, list[str]],
                     election_id: str) -> dict[str, Geometry]:
    """The geometry of each canonical region from a GeoJSON FeatureCollection with one
    polygonal feature per region (named by ``properties.region`` or ``properties.name``, any
    spelling the election lists); raises BoundaryError naming every mismatch."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise BoundaryError("not a GeoJSON FeatureCollection (\"type\": \"FeatureCollection\")")
    index = alias_index(regions)
    found: dict[str, Geometry] = {}
    seen: set[str] = set()
    problems: list[str] = []
    for n, feature in enumerate(document.get("features") or []):
        props = (feature or {}).get("properties") or {}
        name = props.get("region") or props.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"feature {n}: no properties.region (or properties.name)")
            continue
        region = canonical_region(index, name)
        seen.add(region)
        why = _geometry_problem((feature or {}).get("geometry"))
        if region not in regions:
            problems.append(f"feature {n}: {name!r} is not a region of {election_id}")
        elif region in found:
            problems.append(f"feature {n}: a second feature for {region!r}")
        elif why:
            problems.append(f"feature {n} ({region}): {why}")
        else:
            found[region] = feature["geometry"]
    missing = [r for r in regions if r not in seen]
    if missing:
        problems.append(f"no feature for {', '.join(missing)}")
    if problems:
        raise BoundaryError("; ".join(problems))
    return found


def _geometry_problem(geometry: Any) -> str | None:
    if not isinstance(geometry, dict) or geometry.get("type") not in POLYGONAL:
        kind = geometry.get("type") if isinstance(geometry, dict) else geometry
        return f"geometry is {kind!r}, not a Polygon or MultiPolygon"
    polygons = ([geometry.get("coordinates")] if geometry["type"] == "Polygon"
                else geometry.get("coordinates"))
    if not isinstance(polygons, list) or not polygons:
        return "geometry has no coordinates"
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon or not all(map(_ring_ok, polygon)):
            return "a ring is not a closed list of at least 4 [lon, lat] positions"
    return None


def _ring_ok(ring: Any) -> bool:
    if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
        return False
    return all(isinstance(p, list) and len(p) >= 2
               and all(isinstance(c, int | float) for c in p[:2])
               and -180 <= p[0] <= 180 and -90 <= p[1] <= 90 for p in ring)
