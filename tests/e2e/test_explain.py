"""The indexes declared with the read-model tables are the ones the hot reads use: on a
schema holding 60,000 stored events, ``EXPLAIN`` of each api read shows no sequential scan of
``events`` (nor of the read model's own large table), so a page costs the page, not the log."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from saylau.audit.replay import deferred_indexes
from saylau.domain.vocabulary import BREACH_OPEN, UNVERIFIED
from saylau.readmodels import (
    as_of,
    breaches,
    events,
    regions,
    registry,
    rollups,
    stations,
    surges,
    timeline,
    triage,
)
from saylau.settings import Settings
from saylau.store.ddl import ddl

EVENTS = 60_000
SEED = f"""
INSERT INTO events
SELECT gen_random_uuid(), CASE WHEN i % 10 = 0 THEN 'detention.reported'
                               ELSE 'ballot.stuffing_observed' END, 1,
       timestamptz '2021-01-10 00:00+00' + i * interval '2 seconds',
       timestamptz '2021-01-10 00:00+00' + i * interval '2 seconds', 'p',
       'PS-' || (i % 3000), 'region-' || (i % 17), 'city-' || (i % 40), 'e',
       CASE WHEN i % 7 = 0 THEN 'verified' ELSE '{UNVERIFIED}' END, i % 6, i,
       jsonb_build_object('i', i)
FROM generate_series(1, {EVENTS}) i;
INSERT INTO triage_queue
SELECT event_id, CASE WHEN kafka_offset % 97 = 0 THEN 0 ELSE 1 END, received_at
FROM events WHERE status = '{UNVERIFIED}';
INSERT INTO breaches
SELECT gen_random_uuid(), 'rule-' || (i % 9), 'legal', 'high', 't', NULL,
       jsonb_build_array(gen_random_uuid()::text, gen_random_uuid()::text), 'PS-' || i,
       'region-' || (i % 17), 'city', 'e',
       timestamptz '2021-01-10 00:00+00' + i * interval '20 seconds', '{BREACH_OPEN}'
FROM generate_series(1, 6000) i;
INSERT INTO stations
SELECT station_id, 'region-' || split_part(station_id, '-', 2)::int % 17, min(city), count(*),
       max(occurred_at) FROM events GROUP BY 1;
INSERT INTO station_registry (station_id, number, region, city, registered_voters)
SELECT station_id, row_number() OVER (ORDER BY station_id), region, city, 1000 FROM stations
WHERE station_id < 'PS-2';
INSERT INTO region_rollups
SELECT 'region-' || i, 100, 1000, 50, 20 FROM generate_series(0, 16) i;
INSERT INTO open_breach_counts
SELECT 'region-' || i, 'rule-' || j, 'high', '', '', 40
FROM generate_series(0, 16) i, generate_series(0, 8) j;
INSERT INTO report_minutes
SELECT date_trunc('minute', occurred_at), count(*) FROM events GROUP BY 1;
INSERT INTO region_report_minutes
SELECT region, date_trunc('minute', occurred_at), count(*) FROM events GROUP BY 1, 2;
INSERT INTO detention_minutes
SELECT region, city, date_trunc('minute', occurred_at), count(*), 0 FROM events
WHERE type = 'detention.reported' GROUP BY 1, 2, 3;
INSERT INTO detention_hours
SELECT region, city, date_trunc('hour', minute), sum(detained), 0 FROM detention_minutes
GROUP BY 1, 2, 3;
INSERT INTO detention_reports
SELECT event_id, region, city, type, 1, occurred_at,
       CASE WHEN kafka_offset % 50 = 0 THEN occurred_at + interval '1 hour' END
FROM events WHERE type = 'detention.reported';
ANALYZE;
"""


async def connect(schema: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(Settings().database_url)
    await conn.execute(f'SET search_path TO "{schema}"')
    return conn


def seeded(deferred: frozenset[str] = frozenset()) -> Iterator[str]:
    """A read-model schema holding ``SEED`` (without the ``deferred`` indexes), dropped after."""
    name = f"explain_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(Settings().database_url)
        try:
            for statement in ddl(name, deferred=deferred):
                await conn.execute(statement)
            await conn.execute(SEED)
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(Settings().database_url)
        try:
            await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(create())
    yield name
    asyncio.run(drop())


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    yield from seeded()


@pytest.fixture(scope="module")
def replay_schema() -> Iterator[str]:
    """As ``saylau replay`` loads it: the indexes it builds after the load left out."""
    yield from seeded(deferred_indexes())


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every (node type, relation) of a plan tree."""
    yield plan["Node Type"], plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from scans(child)


async def explained(schema: str, query: str, *args: Any) -> list[tuple[str, str]]:
    conn = await connect(schema)
    try:
        found = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
    finally:
        await conn.close()
    return list(scans(orjson.loads(found)[0]["Plan"]))


async def one(schema: str, query: str) -> Any:
    conn = await connect(schema)
    try:
        return await conn.fetchrow(query)
    finally:
        await conn.close()


TINY = {"region_rollups", "open_breach_counts"}
HERS = ["region-3"]
"""The regions of a principal bound to one (of 17)."""
AT = datetime(2021, 1, 10, 12, 0, 30, tzinfo=UTC)


def hot_reads(schema: str) -> dict[str, tuple[str, tuple[Any, ...], str]]:
    """Each hot read: its query, arguments, and the read model table it must not scan."""
    some = asyncio.run(one(schema, "SELECT e.event_id, e.station_id, e.occurred_at, "
                                   "q.queue_rank, q.received_at FROM events e JOIN triage_queue q"
                                   " USING (event_id) ORDER BY e.kafka_offset LIMIT 1 OFFSET 500"))
    breach = asyncio.run(one(schema, "SELECT breach_id, occurred_at FROM breaches "
                                     "ORDER BY occurred_at DESC LIMIT 1 OFFSET 300"))
    return {
        "triage, first page": (triage.TRIAGE_QUEUE, (51, None, None, None), "triage_queue"),
        "triage, a later page": (triage.TRIAGE_QUEUE, (51, some["queue_rank"],
                                                       some["received_at"], some["event_id"]),
                                 "triage_queue"),
        "station timeline": (events.STATION_TIMELINE, (some["station_id"], 501,
                                                       some["occurred_at"], some["event_id"]),
                             "events"),
        "breaches, first page": (breaches.LIST_BREACHES,
                                 (None, None, None, None, None, 1001, None, None), "breaches"),
        "breaches, a later page": (breaches.LIST_BREACHES, (
            None, None, None, None, None, 1001, breach["occurred_at"], breach["breach_id"]),
            "breaches"),
        "breach evidence": (breaches.BREACH_EVIDENCE, (breach["breach_id"], 1001, None),
                            "breaches"),
        "triage of her region, first page": (triage.TRIAGE_QUEUE_OF,
                                             (51, None, None, None, HERS), "triage_queue"),
        "breaches of her region, first page": (breaches.LIST_BREACHES_OF, (
            None, None, None, None, None, 1001, None, None, HERS), "breaches"),
        "stations of her region": (stations.LIST_STATIONS_OF, (None, 101, None, HERS),
                                   "stations"),
        "timeline of her region": (timeline.REGION_REPORT_TIMELINE, (600, 144, HERS),
                                   "region_report_minutes"),
        "her region's latest report": (timeline.LATEST_REGION_REPORT, (
            ["report.verified", "report.retracted"], HERS), "events"),
        "a station's region": (stations.STATION_REGION, (some["station_id"],), "stations"),
        "a region named": (regions.NAMED, ("region-99",), "stations"),  # unknown: by index
        "timeline": (timeline.REPORT_TIMELINE, (600, 144), "report_minutes"),
        "as of, the minute it falls in": (as_of.PART_MINUTE, (AT.replace(second=0), AT),
                                          "detention_reports"),
        "as of, the whole hours and minutes before it": (
            as_of.WHOLE_MINUTES, (AT.replace(second=0), AT.replace(minute=0, second=0)),
            "detention_minutes"),
        "an event by id": ("SELECT record FROM events WHERE event_id = $1",
                           (some["event_id"],), "events"),
        "timeline, the latest report": (timeline.LATEST_REPORT,
                                        (["report.verified", "report.retracted"],), "events"),
        "regions": (rollups.REGIONS, (), "region_rollups"),
        "breach summary": (rollups.RULES, (), "open_breach_counts"),
        "regions, refreshed by a batch": (rollups.REFRESH_REGIONS,
                                          (["region-3", "region-5"],), "stations"),
        "a batch's stations, as they were and are": (
            stations.UPSERT_STATIONS, ([some["station_id"], "PS-none"], ["region-3", None],
                                       [None, None], [1, 1], [AT, AT], [some["station_id"]],
                                       ["ballot.stuffing_observed"], [1]), "stations"),
        "a batch's stations moved to their registry region": (
            stations.RELOCATE, ([some["station_id"], "PS-none"], ["region-3", "region-5"]),
            "stations"),
        "a batch's stations' registry entries": (
            registry.REGISTRY_ENTRIES, ([some["station_id"], "PS-none"],), "station_registry"),
        "surge evidence of a batch's detention buckets": (surges.SURGE_EVIDENCE, (
            [f"region-{i % 17}" for i in range(40)], [f"city-{i}" for i in range(40)],
            [AT.replace(hour=h % 24, minute=0, second=0) for h in range(40)],
            [AT.replace(hour=h % 24, minute=59, second=0) for h in range(40)],
            ["retracted"]), "events"),
    }


@pytest.mark.parametrize("read", ["triage, first page", "triage, a later page",
                                  "station timeline", "breaches, first page",
                                  "breaches, a later page", "breach evidence", "timeline",
                                  "as of, the minute it falls in",
                                  "as of, the whole hours and minutes before it", "an event by id",
                                  "timeline, the latest report", "regions", "breach summary",
                                  "regions, refreshed by a batch",
                                  "a batch's stations, as they were and are",
                                  "a batch's stations moved to their registry region",
                                  "a batch's stations' registry entries",
                                  "surge evidence of a batch's detention buckets",
                                  "triage of her region, first page",
                                  "breaches of her region, first page", "stations of her region",
                                  "timeline of her region", "her region's latest report",
                                  "a station's region", "a region named"])
def test_hot_reads_use_their_indexes_not_a_scan_of_events(schema: str, read: str) -> None:
    sequential, own_table, plan = scanned(schema, read)
    assert not sequential & {"events", "breaches", own_table}, plan


@pytest.mark.parametrize("read", ["regions, refreshed by a batch",
                                  "a batch's stations moved to their registry region",
                                  "a batch's stations' registry entries",
                                  "surge evidence of a batch's detention buckets"])
def test_a_replay_keeps_the_indexes_the_projections_own_statements_read(
        replay_schema: str, read: str) -> None:
    """A replay defers the indexes only the api reads; a statement the projection runs for a
    batch must not scan the log, or each batch would cost more the longer the log."""
    sequential, own_table, plan = scanned(replay_schema, read)
    assert not sequential & {"events", "breaches", own_table}, plan


def scanned(schema: str, read: str) -> tuple[set[str], str, list[tuple[str, str]]]:
    """The tables ``read``'s plan scans sequentially in ``schema`` (its own table left out when
    it is tiny), that table, and the plan."""
    query, args, own_table = hot_reads(schema)[read]
    plan = asyncio.run(explained(schema, query, *args))
    sequential = {relation for node, relation in plan if node == "Seq Scan"}
    if own_table in TINY:  # a few rows per region or rule: read whole, the size of the answer
        sequential -= {own_table}
    return sequential, own_table, plan


OLD_REGION_STATIONS = """
SELECT COALESCE(r.station_id, s.station_id) AS station_id, r.number, r.address, r.district,
       COALESCE(r.city, s.city) AS city, r.registered_voters, r.lat, r.lon,
       r.station_id IS NOT NULL AS registered, COALESCE(s.total, 0) AS reports,
       (SELECT count(*) FROM incident_groups g
        WHERE g.station_id = COALESCE(r.station_id, s.station_id))::int AS distinct_incidents,
       EXISTS (SELECT 1 FROM observers o WHERE o.accredited
               AND o.station_id = COALESCE(r.station_id, s.station_id)) AS observer_present
FROM station_registry r FULL JOIN stations s ON s.station_id = r.station_id
WHERE COALESCE(r.region, s.region) = $1
ORDER BY r.number NULLS LAST, 1
LIMIT $2
"""
"""What ``GET /v1/regions/{region}/stations`` ran before it read through the region indexes."""


async def index_names(schema: str, query: str, *args: Any) -> set[str]:
    """The indexes a plan reads (a region's stations and registry are country-sized: joining
    them whole by hash is the planner's cheapest way, so only the region lookups are checked)."""
    conn = await connect(schema)
    try:
        found = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
    finally:
        await conn.close()

    def walk(plan: dict[str, Any]) -> Iterator[str]:
        if "Index Name" in plan:
            yield plan["Index Name"]
        for child in plan.get("Plans", []):
            yield from walk(child)
    return set(walk(orjson.loads(found)[0]["Plan"]))


async def both_answers(schema: str, region: str, limit: int) -> tuple[list[Any], list[Any]]:
    conn = await connect(schema)
    try:
        return ([dict(r) for r in await conn.fetch(OLD_REGION_STATIONS, region, limit)],
                [dict(r) for r in await conn.fetch(regions.REGION_STATIONS, region, limit)])
    finally:
        await conn.close()


@pytest.mark.parametrize(("region", "limit"), [("region-3", 5000), ("region-11", 40),
                                               ("region-0", 5000), ("nowhere", 10)])
def test_a_regions_stations_answer_as_before(schema: str, region: str, limit: int) -> None:
    old, new = asyncio.run(both_answers(schema, region, limit))
    assert new == old and bool(old) == (region != "nowhere")
    indexes = asyncio.run(index_names(schema, regions.REGION_STATIONS, region, limit))
    assert {"ix_station_registry_region", "stations_region"} <= indexes
    if limit > len(old) and old:  # the whole region: registered stations and others reported on
        assert {s["registered"] for s in old} == {True, False}
