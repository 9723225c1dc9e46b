"""The map's shapes: every region of every shipped election is drawn, the shipped TopoJSON
decodes, and an imported boundaries file is checked region by region."""
from __future__ import annotations

import json
from typing import Any

import pytest

from saylau.domain.calendar import Calendars
from saylau.domain.maps import (
    BoundaryError,
    Shape,
    check_boundaries,
    circle,
    decode_topology,
    drawn,
    load_shape_table,
)
from saylau.store.boundaries import LIBRARIES, shipped_polygons

ELECTIONS = Calendars.load().elections
TABLE = load_shape_table()


@pytest.mark.parametrize("election_id", sorted(ELECTIONS))
def test_every_region_of_every_shipped_election_has_a_shape_or_a_fallback(
        election_id: str) -> None:
    shapes = TABLE.elections.get(election_id, {})
    polygons = shipped_polygons()
    assert set(shapes) == set(ELECTIONS[election_id].regions), "the table lists other regions"
    for region, shape in shapes.items():
        if shape.feature:
            assert shape.feature in polygons, f"{region}: no Natural Earth feature {shape.feature!r}"
        else:
            assert shape.at is not None, f"{region}: a circle with no point to fall back on"
        geometry, how = drawn(shape, polygons, None)
        assert geometry is not None and how == ("boundary" if shape.feature else "circle")


def test_the_shipped_boundaries_are_installed_and_decode_to_closed_polygons() -> None:
    assert (LIBRARIES / TABLE.package_file).is_file(), "npm ci in web/ (scripts/setup.sh)"
    polygons = shipped_polygons()
    assert len(polygons) == 16
    for name, g in polygons.items():
        rings = g["coordinates"] if g["type"] == "Polygon" else [
            r for p in g["coordinates"] for r in p]
        for ring in rings:
            assert ring[0] == ring[-1] and len(ring) >= 4, name
            assert all(46 <= lon <= 88 and 40 <= lat <= 56 for lon, lat in ring), name


def test_a_topology_decodes_deltas_and_reversed_arcs() -> None:
    topology = {"type": "Topology", "transform": {"scale": [1, 1], "translate": [10, 20]},
                "arcs": [[[0, 0], [2, 0], [0, 2]], [[2, 2], [-2, 0], [0, -2]]],
                "objects": {"o": {"type": "GeometryCollection", "geometries": [
                    {"type": "Polygon", "properties": {"name": "A"}, "arcs": [[0, 1]]},
                    {"type": "Polygon", "properties": {"name": "B"}, "arcs": [[~1, ~0]]}]}}}
    found = decode_topology(topology, "o", "name")
    assert found["A"]["coordinates"] == [[[10, 20], [12, 20], [12, 22], [10, 22], [10, 20]]]
    assert found["B"]["coordinates"] == [[[10, 20], [10, 22], [12, 22], [12, 20], [10, 20]]]


def test_a_region_without_a_polygon_is_a_circle_around_its_stations_else_its_point() -> None:
    shape = Shape(at=(69.59, 42.32), radius_km=20)
    around_stations, how = drawn(shape, {}, (70.0, 43.0))
    assert how == "circle"
    ring = around_stations["coordinates"][0]
    assert abs(sum(p[0] for p in ring[:-1]) / (len(ring) - 1) - 70.0) < 1e-3
    assert drawn(shape, {}, None)[0] == circle(69.59, 42.32, 20)
    assert drawn(None, {}, None) == (None, "none")


def square(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 1, lat], [lon + 1, lat + 1],
                                                [lon, lat + 1], [lon, lat]]]}


REGIONS = {"Astana": ["Nur-Sultan"], "Shymkent": ["Шымкент"], "Abai": []}


def collection(*features: tuple[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": n}, "geometry": g} for n, g in features]}


def test_imported_boundaries_are_keyed_by_canonical_region_whatever_the_spelling() -> None:
    found = check_boundaries(collection(("Nur-Sultan", square(71, 51)),
                                        ("Шымкент", square(69, 42)), ("Abai", square(80, 50))),
                             REGIONS, "kz-x")
    assert sorted(found) == ["Abai", "Astana", "Shymkent"]


@pytest.mark.parametrize(("features", "named"), [
    ((("Astana", square(71, 51)), ("Shymkent", square(69, 42))), "no feature for Abai"),
    ((("Astana", square(71, 51)), ("Shymkent", square(69, 42)), ("Abai", square(80, 50)),
      ("Ulytau", square(67, 47))), "'Ulytau' is not a region of kz-x"),
    ((("Astana", square(71, 51)), ("Nur-Sultan", square(71, 51)), ("Shymkent", square(69, 42)),
      ("Abai", square(80, 50))), "a second feature for 'Astana'"),
    ((("Astana", {"type": "Point", "coordinates": [71, 51]}), ("Shymkent", square(69, 42)),
      ("Abai", square(80, 50))), "feature 0 (Astana): geometry is 'Point'"),
    ((("Astana", {"type": "Polygon", "coordinates": [[[71, 51], [72, 51], [71, 51]]]}),
      ("Shymkent", square(69, 42)), ("Abai", square(80, 50))), "feature 0 (Astana): a ring"),
])
def test_a_file_that_does_not_fit_the_election_is_refused_naming_what(
        features: tuple[tuple[str, Any], ...], named: str) -> None:
    with pytest.raises(BoundaryError, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_boundaries(collection(*features), REGIONS, "kz-x")


def test_a_file_that_is_not_a_feature_collection_is_refused() -> None:
    with pytest.raises(BoundaryError, match="FeatureCollection"):
        check_boundaries(json.loads('{"type": "Feature"}'), REGIONS, "kz-x")
