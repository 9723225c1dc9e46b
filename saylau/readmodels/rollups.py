"""Roll-ups: per region (``GET /v1/regions``) and open breaches per rule and article of law
(``GET /v1/breaches/summary``), kept by the projector so a read costs the handful of rows
it answers, not an aggregate over stations, detentions and breaches at every call.

The pure ``fold`` names what a batch can have changed: the stations and cities it counted
in, and the rules whose breaches the batch's read models may have written or withdrawn.
``write`` (after every read model that writes stations, detentions or breaches) resolves
those to regions and rule ids, takes the roll-up lock, and recomputes just those rows from
the tables they sum. Recomputing after the lock is exact with several projector workers: a
worker that waited for the lock reads, in its next statement, what the other committed. Each
row is a function of the read models it sums, so replay agrees with live whatever the batch
boundaries. ``ROLLUP_REGIONS`` and ``ROLLUP_RULES`` are the aggregates the endpoints used to
run at every call, restricted to the regions or rules to refresh (through the indexes
``stations_region`` and ``breaches.rule_id``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Column, Integer, PrimaryKeyConstraint, Text

from saylau.ddl import READ, table
from saylau.domain.breach import DETENTION_SURGE, RuleConfig
from saylau.domain.turnout import TURNOUT_RULES
from saylau.domain.vocabulary import BREACH_OPEN, WITHDRAWN_STATUSES
from saylau.readmodels import detentions, quickcount, turnout
from saylau.readmodels.base import Batch, Change, ReadModel

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
    """What a batch may have changed in the roll-ups (pure data)."""

    stations: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    withdrawn: set[str] = field(default_factory=set)
    """Event ids of reports withdrawn: the breaches citing them may have been withdrawn."""

    def __bool__(self) -> bool:
        return bool(self.stations or self.regions or self.rules or self.withdrawn)


def fold(batch: Batch, config: RuleConfig) -> Touched:
    """Stations and cities counted in, and the rules whose breaches the batch's read models
    may write: the rules that found breaches, detention surges (buckets counted in), turnout
    alerts (``turnout``), quick-count discrepancies (``quickcount``)."""
    touched = Touched()
    touched.stations = {c.event.station_id for c in batch.counted if c.event.station_id}
    cities = detentions.fold(batch, config)
    touched.regions = {region for region, _ in cities.city_detentions}
    touched.rules = {b.rule_id for b in batch.found}
    if cities.detention_buckets:
        touched.rules.add(DETENTION_SURGE)
    if turnout.fold(batch, config).stations:
        touched.rules |= set(TURNOUT_RULES)
    counted = quickcount.fold(batch, config)
    if counted.elections or counted.stations:
        touched.rules.add(quickcount.RULE_ID)
    touched.withdrawn = {str(k) for k, s in batch.statuses.items() if s in WITHDRAWN_STATUSES}
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

ROLLUP_RULES = """
SELECT COALESCE(region, '') AS region, rule_id, severity,
       COALESCE(legal_ref->>'code', '') AS code, COALESCE(legal_ref->>'article', '') AS article,
       count(*)::int AS breaches
FROM breaches WHERE status = $1 AND rule_id = ANY($2::text[]) GROUP BY 1, 2, 3, 4, 5
"""


async def write(conn: asyncpg.Connection, touched: Touched, config: RuleConfig) -> list[Change]:
    if not touched:
        return []
    regions, rules = set(touched.regions), set(touched.rules)
    if touched.stations:
        regions |= {r["region"] for r in await conn.fetch(
            "SELECT DISTINCT region FROM stations WHERE station_id = ANY($1::text[])",
            sorted(touched.stations))}
    if touched.withdrawn:
        rules |= {r["rule_id"] for r in await conn.fetch(
            "SELECT DISTINCT rule_id FROM breaches WHERE event_ids ?| $1::text[]",
            sorted(touched.withdrawn))}
    regions.discard(None)
    await conn.execute(LOCK)
    if regions:
        await refresh(conn, "region_rollups", "region", sorted(regions), ROLLUP_REGIONS)
    if rules:
        await refresh(conn, "open_breach_counts", "rule_id", sorted(rules), ROLLUP_RULES,
                      BREACH_OPEN)
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
