"""Roll-ups: per region (``GET /v1/regions``) and open breaches per rule and article of law
(``GET /v1/breaches/summary``), kept by the projector so a read costs the handful of rows
it answers, not an aggregate over stations, detentions and breaches at every call.

Regions: the stations and detentions writes record how each row they changed moves its
region's sums (``saylau.readmodels.region_moves``: the row before and after, read in the
statement that changes it); ``write`` (after every read model that writes stations or
detentions) takes the roll-up lock and adds the batch's moves to those regions' rows in one
statement. A region whose move could not be told exactly (a station whose earlier reports
named no region, or a row another worker changed meanwhile) is recounted from the tables it
sums instead (``ROLLUP_REGIONS``, the aggregate ``/v1/regions`` used to run, restricted to
it through the index ``stations_region``); recounting after the lock is exact with several
projector workers: a worker that waited for the lock reads, in its next statement, what the
other committed. Moves are sums of the changes rows went through, so replay (other batch
boundaries) reaches the same rows as live, and ``saylau compare`` checks it. A batch no
longer recounts every station of every region it touched: that grew with the number of
stations (3 to 30 ms of a small batch at 10,000 stations).

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
from typing import Any

import asyncpg
from sqlalchemy import Column, Integer, PrimaryKeyConstraint, Text

from saylau.domain.breach import RuleConfig
from saylau.readmodels.base import Change, ReadModel, columns
from saylau.readmodels.breaches import OPEN_DELTAS, apply_open_deltas
from saylau.readmodels.region_moves import SUMS, gathered
from saylau.store.ddl import READ, table

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

REFRESH_REGIONS = f"""
WITH fresh AS ({ROLLUP_REGIONS}),
gone AS (DELETE FROM region_rollups WHERE region = ANY($1::text[])
           AND region NOT IN (SELECT region FROM fresh))
INSERT INTO region_rollups AS r SELECT * FROM fresh
ON CONFLICT (region) DO UPDATE SET
  stations_with_incidents = EXCLUDED.stations_with_incidents, incidents = EXCLUDED.incidents,
  detained_total = EXCLUDED.detained_total, detained_now = EXCLUDED.detained_now
WHERE (r.stations_with_incidents, r.incidents, r.detained_total, r.detained_now)
      IS DISTINCT FROM (EXCLUDED.stations_with_incidents, EXCLUDED.incidents,
                        EXCLUDED.detained_total, EXCLUDED.detained_now)
"""
"""The touched regions' rows replaced by what ``ROLLUP_REGIONS`` finds now, in one statement:
a region it no longer finds is deleted, a row that did not move is not rewritten."""


MOVE_REGIONS = f"""
INSERT INTO region_rollups AS r (region, {", ".join(SUMS)})
SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[])
ON CONFLICT (region) DO UPDATE SET
  {", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in SUMS)}
"""
"""Add each region's moves to its row (a region first named gets its row)."""


async def write(conn: asyncpg.Connection, rows: None, config: RuleConfig) -> list[Change]:
    """Move the regions' rows by what the batch's stations and detentions writes changed
    (``region_moves``), recount the few whose move was not known, and move the open-breach
    counts by what its breach writes changed (``breaches.OPEN_DELTAS``), under the lock."""
    deltas = OPEN_DELTAS.get()
    moved = Counter(deltas or {})
    if deltas is not None:
        deltas.clear()
    regions = gathered()
    if not (regions.regions() or any(moved.values())):
        return []
    await conn.execute(LOCK)
    exact = sorted(r for r in regions.moves if r not in regions.recount)
    if exact:
        await conn.execute(MOVE_REGIONS, exact,
                           *columns([regions.moves[r] for r in exact]))
    if regions.recount:
        await conn.execute(REFRESH_REGIONS, sorted(regions.recount))
    await apply_open_deltas(conn, moved)
    return []


READ_MODEL = ReadModel("rollups", (region_rollups, open_breach_counts), write=write,
                       after=("stations", "detentions", "breaches"))

REGIONS = """
SELECT region, COALESCE(r.stations_with_incidents, 0) AS stations_with_incidents,
       COALESCE(r.incidents, 0) AS incidents, COALESCE(r.detained_total, 0) AS detained_total,
       COALESCE(r.detained_now, 0) AS detained_now, COALESCE(b.open, 0) AS open_breaches
FROM region_rollups r FULL JOIN (SELECT region, sum(breaches)::int AS open
                                 FROM open_breach_counts WHERE region <> '' GROUP BY region) b
  USING (region)
ORDER BY region
"""
REGIONS_OF = REGIONS.replace("ORDER BY region", "WHERE region = ANY($1::text[])\nORDER BY region")
"""The roll-up of a regional principal's regions only."""
RULES = """
SELECT rule_id, severity, NULLIF(code, '') AS code, NULLIF(article, '') AS article,
       sum(breaches)::int AS breaches
FROM open_breach_counts GROUP BY rule_id, severity, code, article
ORDER BY breaches DESC, rule_id, severity, code, article
"""
RULES_OF = RULES.replace("GROUP BY", "WHERE region = ANY($1::text[]) GROUP BY")
"""The counts of a regional principal's regions only."""


async def regions(conn: asyncpg.Connection,
                  within: list[str] | None = None) -> list[dict[str, Any]]:
    """Per region: stations with incidents, reports, people detained and still held, open
    breaches; a region is listed while a station, a city's detentions or an open breach names
    it (read whole: a country has tens of regions). ``within``: only these regions."""
    if within is None:
        return [dict(r) for r in await conn.fetch(REGIONS)]
    return [dict(r) for r in await conn.fetch(REGIONS_OF, within)]


async def breach_summary(conn: asyncpg.Connection,
                         within: list[str] | None = None) -> list[dict[str, Any]]:
    """Open breaches counted per rule, severity and article of law, most first (``within``:
    of these regions only; a breach of no region counts nationally only)."""
    if within is None:
        return [dict(r) for r in await conn.fetch(RULES)]
    return [dict(r) for r in await conn.fetch(RULES_OF, within)]
