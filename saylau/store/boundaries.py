"""Region boundaries: the shipped Natural Earth polygons (``web/node_modules``, named by the
shape table) and a centre's own, imported per election into ``region_boundaries``."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg

from saylau.domain.maps import Geometry, ShapeTable, decode_topology, load_shape_table

LIBRARIES = Path(__file__).resolve().parents[2] / "web" / "node_modules"
"""Where ``npm ci --prefix web`` (``scripts/setup.sh``, the image's first stage) installs."""


@cache
def shape_table() -> ShapeTable:
    return load_shape_table()


@cache
def shipped_polygons() -> dict[str, Geometry]:
    """The Natural Earth polygons by feature name; none when the set-up has not installed
    them (every region is then drawn as a circle)."""
    table = shape_table()
    path = LIBRARIES / table.package_file
    if not path.is_file():
        return {}
    topology = json.loads(path.read_text(encoding="utf-8"))
    return decode_topology(topology, table.object, table.name_property)


async def imported(conn: asyncpg.Connection, schema: str, election_id: str
                   ) -> dict[str, Geometry]:
    """The boundaries a centre imported for ``election_id`` (none: the shape table draws)."""
    rows = await conn.fetch(f'SELECT region, geometry::text AS g FROM "{schema}".'
                            "region_boundaries WHERE election_id = $1", election_id)
    return {r["region"]: json.loads(r["g"]) for r in rows}


async def replace(conn: asyncpg.Connection, schema: str, election_id: str,
                  geometries: dict[str, Any], source: str) -> None:
    """Replace the election's boundaries with ``geometries`` (region → GeoJSON), at once."""
    async with conn.transaction():
        await conn.execute(f'DELETE FROM "{schema}".region_boundaries WHERE election_id = $1',
                           election_id)
        await conn.executemany(
            f'INSERT INTO "{schema}".region_boundaries (election_id, region, geometry, source)'
            " VALUES ($1, $2, $3::jsonb, $4)",
            [(election_id, r, json.dumps(g), source) for r, g in sorted(geometries.items())])
