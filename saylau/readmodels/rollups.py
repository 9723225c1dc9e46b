"""Roll-ups: per region (``GET /v1/regions``) and open breaches per rule and article of law
(``GET /v1/breaches/summary``), kept by the projector so a read costs the handful of rows
it answers, not an aggregate over stations, detentions and breaches at every call.

Regions: the pure ``fold`` names the stations and cities a batch counted in; ``write``
(after every read model that writes stations or detentions) resolves them to regions, takes
the roll-up lock and recomputes just those regions' rows from the tables they sum
(``ROLLUP_REGIONS``, the aggregate ``/v1/regions`` used to run, restricted to them through
the index ``stations_region``). Recomputing after the lock is exact with several projector
workers: a worker that waited for the lock reads, in its next statement, what the other
committed.

Open breaches: every write of a breach row (``saylau.readmodels.breaches``: upsert, withdraw,
delete) reads the row's previous state in the same statement and records how the counts
move (-1 at the old key if it was open, +1 at the new one if it is); ``write`` adds the
batch's moves under the same lock. So a batch costs the breaches it touched, not every open
breach of their rules (that recount grew with the log: about 30 ms a batch at 100,000 events).
Each count is a function of the breaches table, so replay agrees with live whatever the batch
boundaries, and ``saylau compare`` checks it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Column, Integer, PrimaryKeyConstraint, Text

from saylau.ddl import READ, table
from saylau.domain.breach import RuleConfig
from saylau.readmodels import detentions
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.breaches import OPEN_DELTAS, apply_open_deltas

region_rollups = table(
    "region_rollups", READ,
    Column("region", Text, primary_key=True),
    Column("stations_with_incidents", Integer, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("detained_total", Integer, nullable=False),
    Column("detained_now", Integer, nullable=False),
)
"""Per region named by a station or a city's detentions: its stations and detentions."""

open_breach_counts = table(
    "open_breach_counts", READ,
    Column("region", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("article", Text, nullable=False),
    Column("breaches", Integer, nullable=False),
    PrimaryKeyConstraint("rule_id", "region", "severity", "code", "article"),
)
"""Open breaches per rule, region, severity and article of law (tens of rules × tens of
regions: both answers sum it whole). ``''`` stands for a missing region, code or article
(a key column cannot be null)."""


@dataclass
class Touched:
    """The stations and regions a batch counted in (pure data)."""

    stations: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.stations or self.regions)


def fold(batch: Batch, config: RuleConfig) -> Touched:
    """Stations and cities counted in (the open-breach counts move with the breach writes)."""
    touched = Touched()
    touched.stations = {c.event.station_id for c in batch.counted if c.event.station_id}
    touched.regions = {region for region, _ in detentions.fold(batch, config).city_detentions}
    return touched


LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.rollups'))"
"""One lock per read schema, held to commit; taken after every other read-model write and
before the change feed's counter (so every worker takes the two in the same order)."""

ROLLUP_REGIONS = """
SELECT region, sum(stations)::int AS stations_with_incidents,
       sum(incidents)::int AS incidents, sum(detained_total)::int AS detained_total,
       sum(detained_now)::int AS detained_now
FROM (
  SELECT region, count(*) FILTER (WHERE total > 0) AS stations, sum(total) AS incidents,
         0 AS detained_total, 0 AS detained_now
    FROM stations WHERE region = ANY($1::text[]) GROUP BY region
  UNION ALL SELECT region, 0, 0, sum(detained_total),
                   sum(GREATEST(detained_total - released_total, 0))
    FROM city_detentions WHERE region = ANY($1::text[]) GROUP BY region) t
GROUP BY region ORDER BY region
"""
"""Per region: stations with incidents, reports, people detained and still held (per city,
releases beyond detentions never below zero: ``vocabulary.detained_now``)."""

async def write(conn: asyncpg.Connection, touched: Touched, config: RuleConfig) -> list[Change]:
    """Refresh the touched regions from the tables they sum, and move the open-breach
    counts by what the batch's breach writes changed (``breaches.OPEN_DELTAS``)."""
    deltas = OPEN_DELTAS.get()
    moved = Counter(deltas or {})
    if deltas is not None:
        deltas.clear()
    regions = set(touched.regions)
    if touched.stations:
        regions |= {r["region"] for r in await conn.fetch(
            "SELECT DISTINCT region FROM stations WHERE station_id = ANY($1::text[])",
            sorted(touched.stations))}
    regions.discard(None)
    if not (regions or any(moved.values())):
        return []
    await conn.execute(LOCK)
    if regions:
        await refresh(conn, "region_rollups", "region", sorted(regions), ROLLUP_REGIONS)
    await apply_open_deltas(conn, moved)
    return []


async def refresh(conn: asyncpg.Connection, name: str, key: str, keys: list[str],
                  query: str, *args: Any) -> None:
    """Replace the rows of table ``name`` whose ``key`` is in ``keys`` by what ``query``
    (the aggregate restricted to ``keys``) finds now."""
    rows = await conn.fetch(query, *args, keys)
    await conn.execute(f"DELETE FROM {name} WHERE {key} = ANY($1::text[])", keys)
    if rows:
        await conn.copy_records_to_table(name, records=[tuple(r) for r in rows],
                                         columns=list(rows[0].keys()))


READ_MODEL = ReadModel("rollups", (region_rollups, open_breach_counts), fold, write)

REGIONS = """
SELECT region, COALESCE(r.stations_with_incidents, 0) AS stations_with_incidents,
       COALESCE(r.incidents, 0) AS incidents, COALESCE(r.detained_total, 0) AS detained_total,
       COALESCE(r.detained_now, 0) AS detained_now, COALESCE(b.open, 0) AS open_breaches
FROM region_rollups r FULL JOIN (SELECT region, sum(breaches)::int AS open
                                 FROM open_breach_counts WHERE region <> '' GROUP BY region) b
  USING (region)
ORDER BY region
"""
RULES = """
SELECT rule_id, severity, NULLIF(code, '') AS code, NULLIF(article, '') AS article,
       sum(breaches)::int AS breaches
FROM open_breach_counts GROUP BY rule_id, severity, code, article
ORDER BY breaches DESC, rule_id, severity, code, article
"""


async def regions(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Per region: stations with incidents, reports, people detained and still held, open
    breaches; a region is listed while a station, a city's detentions or an open breach names
    it (read whole: a country has tens of regions)."""
    return [dict(r) for r in await conn.fetch(REGIONS)]


async def breach_summary(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Open breaches counted per rule, severity and article of law, most first."""
    return [dict(r) for r in await conn.fetch(RULES)]
