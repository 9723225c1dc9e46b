"""Detentions per city, now or as they stood at a past moment, and per surge time bucket."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Integer, PrimaryKeyConstraint, Text

from saylau.domain.breach import RuleConfig, surge_bucket_start
from saylau.domain.vocabulary import (
    DETENTION_REPORTED,
    DETENTION_TYPES,
    UNKNOWN_REGION,
    UNSPECIFIED_CITY,
    detained_now,
)
from saylau.envelope import Envelope
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.readmodels.region_moves import gathered
from saylau.store.ddl import READ, table

UPGRADE = "ALTER TABLE detention_buckets ADD COLUMN IF NOT EXISTS reported int NOT NULL DEFAULT 0"
"""For schemas created by a release before ``reported`` (idempotent)."""

city_detentions = table(
    "city_detentions", READ,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("detained_total", Integer, nullable=False),
    Column("released_total", Integer, nullable=False),
    PrimaryKeyConstraint("region", "city"),
)

detention_buckets = table(
    "detention_buckets", READ,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("detained", Integer, nullable=False),
    Column("reported", Integer, nullable=False),
    PrimaryKeyConstraint("region", "city", "bucket_start"),
    after=(UPGRADE,),
)
City = tuple[str, str]
Bucket = tuple[str, str, datetime]


def city_of(region: str | None, city: str | None) -> City:
    """The row a detention counts in; placeholders where the report names no place."""
    return region or UNKNOWN_REGION, city or UNSPECIFIED_CITY


def tally(totals: dict[City, list[int]], key: City, type_name: str, count: int) -> None:
    """Add ``count`` people detained or released in ``key``: [detained, released]."""
    totals[key][0 if type_name == DETENTION_REPORTED else 1] += count


@dataclass
class DetentionRows:
    city_detentions: dict[City, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    detention_buckets: dict[Bucket, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    """Per city and time bucket: [detained by standing reports, detained ever reported]."""


def fold(batch: Batch, config: RuleConfig) -> DetentionRows:
    rows = DetentionRows()
    for c in batch.counted:
        if c.event.type in DETENTION_TYPES:
            _add(rows, c.event, c.sign, config)
    return rows


def _add(rows: DetentionRows, event: Envelope, sign: int, config: RuleConfig) -> None:
    key, count = city_of(event.region, event.city), int(event.payload["count"]) * sign
    tally(rows.city_detentions, key, event.type, count)
    if event.type == DETENTION_REPORTED:
        totals = rows.detention_buckets[(*key, surge_bucket_start(event.occurred_at, config))]
        totals[0] += count
        totals[1] += max(count, 0)  # what was ever reported: a retraction does not undo it


async def write(conn: asyncpg.Connection, rows: DetentionRows,
                config: RuleConfig) -> list[Change]:
    """The batch's cities and their surge time buckets, in one statement."""
    if not rows.city_detentions:
        return []  # a detention bucket moves only with its city
    keys, buckets = sorted(rows.city_detentions), sorted(rows.detention_buckets)
    found = await conn.fetch(
        UPSERT_CITIES, *columns([(*k, *rows.city_detentions[k]) for k in keys]),
        *columns([(*k, *rows.detention_buckets[k]) for k in buckets], 5))
    moves = gathered()
    for r in found:
        added = rows.city_detentions[(r["region"], r["city"])]
        moves.city(r["region"], r["detained_total"], r["released_total"], *added)
    return [{"kind": "detentions", "region": r["region"], "station_id": None,
             "data": {**dict(r), "detained_now": detained_now(r["detained_total"],
                                                              r["released_total"])}}
            for r in found]


UPSERT_CITIES = """
WITH buckets AS (
  INSERT INTO detention_buckets AS b (region, city, bucket_start, detained, reported)
  SELECT * FROM unnest($5::text[], $6::text[], $7::timestamptz[], $8::int[], $9::int[])
  ON CONFLICT (region, city, bucket_start) DO UPDATE SET
    detained = b.detained + EXCLUDED.detained, reported = b.reported + EXCLUDED.reported)
INSERT INTO city_detentions AS c (region, city, detained_total, released_total)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
ON CONFLICT (region, city) DO UPDATE SET
  detained_total = c.detained_total + EXCLUDED.detained_total,
  released_total = c.released_total + EXCLUDED.released_total
RETURNING region, city, detained_total, released_total
"""
"""Add a batch's people detained and released to its cities ($1-$4), and its detention
reports to their cities' surge time buckets ($5-$9); each city as it is now."""


READ_MODEL = ReadModel("detentions", (city_detentions, detention_buckets), fold, write)

async def detentions(conn: asyncpg.Connection,
                     within: list[str] | None = None) -> dict[str, Any]:
    """Detention counts per city now (``saylau.readmodels.as_of``: at a past moment);
    ``within``: the cities of these regions only, and their totals."""
    return summary(await _now(conn, within), None)


def summary(totals: dict[City, list[int]], as_of: datetime | None) -> dict[str, Any]:
    """The answer of ``GET /v1/detentions``: per city and in all, cities with any count."""
    cities = [{"region": k[0], "city": k[1], "detained_total": d, "released_total": r,
               "detained_now": detained_now(d, r)} for k, (d, r) in sorted(totals.items())
              if d or r]
    return {"cities": cities, "detained_total": sum(c["detained_total"] for c in cities),
            "detained_now": sum(c["detained_now"] for c in cities), "as_of": as_of}


CITIES = "SELECT region, city, detained_total, released_total FROM city_detentions "
CITIES_NOW, CITIES_OF = CITIES + "ORDER BY region, city", \
    CITIES + "WHERE region = ANY($1::text[]) ORDER BY region, city"


async def _now(conn: asyncpg.Connection, within: list[str] | None) -> dict[City, list[int]]:
    rows = await (conn.fetch(CITIES_NOW) if within is None else conn.fetch(CITIES_OF, within))
    return {(r["region"], r["city"]): [r["detained_total"], r["released_total"]] for r in rows}
