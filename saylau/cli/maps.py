"""``saylau map``: the dashboard map's region boundaries.

``import-regions FILE.geojson --election ID`` replaces the election's boundaries with a
centre's own: a GeoJSON FeatureCollection with one Polygon or MultiPolygon feature per
canonical region of the election (``properties.region`` or ``properties.name``, any spelling
its file lists). Nothing is stored unless every region matches; the error names what does
not. Stored in PostgreSQL (``region_boundaries``), so every api replica serves them at once.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import asyncpg

from saylau.cli.status import OK, fail
from saylau.domain.calendar import Calendars
from saylau.domain.maps import BoundaryError, check_boundaries
from saylau.settings import settings
from saylau.store import boundaries
from saylau.store.migrations import upgrade


def register(sub: Any) -> None:
    m = sub.add_parser("map", help="the dashboard map's region boundaries")
    ms = m.add_subparsers(dest="action", required=True)
    imp = ms.add_parser("import-regions", help="replace an election's region boundaries "
                        "with a GeoJSON FeatureCollection (one polygon feature per region)")
    imp.add_argument("file", metavar="FILE.geojson")
    imp.add_argument("--election", required=True, help="the election id (elections/*.yaml)")
    imp.set_defaults(run=run_import_regions)


async def run_import_regions(args: argparse.Namespace) -> int:
    election = Calendars.load().get(args.election)
    if election is None:
        return fail(f"map import-regions: unknown election {args.election!r}")
    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return fail(f"map import-regions: cannot read {args.file} as JSON: {exc}")
    try:
        geometries = check_boundaries(document, election.regions, election.id)
    except BoundaryError as exc:
        return fail(f"map import-regions: {args.file}: {exc}; nothing imported")
    cfg = settings()
    await upgrade(cfg.dsn, cfg.ingest_schema)
    conn = await asyncpg.connect(cfg.dsn)
    try:
        await boundaries.replace(conn, cfg.ingest_schema, election.id, geometries,
                                 Path(args.file).name)
    finally:
        await conn.close()
    print(f"imported the boundaries of {len(geometries)} regions of {election.id} "
          f"from {args.file}")
    return OK
