"""Region roll-ups and the open-breach summary come from read models the projector keeps, and
answer exactly what the per-call aggregates they replace answered, on the same data."""
from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from saylau.domain.vocabulary import BREACH_OPEN, detained_now
from saylau.settings import Settings
from tests.factories import detention, envelope, release, stuffing, unique
from tests.stack import Stack, wait_until

# The queries /v1/regions and /v1/breaches/summary ran at every call before the roll-ups.
OLD_REGIONS = """
SELECT region, sum(stations)::int AS stations_with_incidents,
       sum(incidents)::int AS incidents, sum(detained_total)::int AS detained_total,
       0 AS detained_now, sum(breaches)::int AS open_breaches
FROM (
  SELECT region, count(*) FILTER (WHERE total > 0) AS stations, sum(total) AS incidents,
         0 AS detained_total, 0 AS breaches
    FROM stations GROUP BY region
  UNION ALL SELECT region, 0, 0, sum(detained_total), 0 FROM city_detentions GROUP BY region
  UNION ALL SELECT region, 0, 0, 0, count(*) FROM breaches WHERE status = $1 GROUP BY region) t
WHERE region IS NOT NULL GROUP BY region ORDER BY region
"""
OLD_SUMMARY = """
SELECT rule_id, severity, legal_ref->>'code' AS code, legal_ref->>'article' AS article,
       count(*) AS breaches FROM breaches WHERE status = $1
GROUP BY 1, 2, 3, 4 ORDER BY breaches DESC, rule_id
"""


async def _old_answers(schema: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    conn = await asyncpg.connect(Settings().dsn)
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        rows = [dict(r) for r in await conn.fetch(OLD_REGIONS, BREACH_OPEN)]
        held: dict[str, int] = {}
        for c in await conn.fetch("SELECT region, detained_total, released_total "
                                  "FROM city_detentions"):
            held[c["region"]] = held.get(c["region"], 0) + detained_now(
                c["detained_total"], c["released_total"])
        regions = [{**r, "detained_now": held.get(r["region"], 0)} for r in rows]
        return regions, [dict(r) for r in await conn.fetch(OLD_SUMMARY, BREACH_OPEN)]
    finally:
        await conn.close()


def answers(stack: Stack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (stack.get("/v1/regions").json()["regions"],
            stack.get("/v1/breaches/summary").json()["rules"])


def same_as_before(stack: Stack) -> bool:
    regions, rules = answers(stack)
    old_regions, old_rules = asyncio.run(_old_answers(stack.name))
    key = lambda r: (-r["breaches"], r["rule_id"], r["severity"], str(r["code"]),
                     str(r["article"]))
    # the old summary left the order of one rule's severities or articles open: same rows
    return regions == old_regions and rules == sorted(rules, key=key) \
        and sorted(rules, key=key) == sorted(old_rules, key=key)


def test_roll_ups_answer_as_the_aggregates_did_through_withdrawals(stack: Stack) -> None:
    region, other, city = unique("region"), unique("region"), unique()
    stations = [unique("PS") for _ in range(4)]
    place = {"region": region, "city": city}
    stuffed = [stuffing(s, place=place) for s in stations]
    events = [*stuffed, detention(city, 30, region=region), release(city, 40, region=region),
              detention(unique(), 3, region=other), detention(unique(), 2, region=other)]
    assert stack.post_batch(events).status_code == 200
    mine = lambda: {r["region"]: r for r in answers(stack)[0]}
    expected = {region: {"region": region, "stations_with_incidents": 4, "incidents": 4,
                         "detained_total": 30, "detained_now": 0, "open_breaches": 5},
                other: {"region": other, "stations_with_incidents": 0, "incidents": 0,
                        "detained_total": 5, "detained_now": 5, "open_breaches": 0}}
    # the batch's events are keyed by station and by city: they may land in several
    # projector transactions, so the whole expected answer is what is waited for
    wait_until(lambda: {r: row for r, row in mine().items() if r in expected} == expected, 60)
    wait_until(lambda: same_as_before(stack), timeout=30)

    # 4 stuffing breaches and a detention surge (30 > 20). A retracted report takes back its
    # station's count and the breach it alone supported
    retracted = envelope("report.retracted", {"event_id": stuffed[0]["event_id"]})
    assert stack.post(retracted).status_code == 202
    wait_until(lambda: mine()[region]["open_breaches"] == 4, timeout=60)
    assert mine()[region]["stations_with_incidents"] == 3 and mine()[region]["incidents"] == 3
    wait_until(lambda: same_as_before(stack), timeout=30)


def test_a_station_first_reported_without_a_region_counts_in_it_once_one_is_named(
        stack: Stack) -> None:
    """Its reports so far counted in no region: the batch that names one cannot tell its move
    from the row alone, so the roll-ups recount that region (``region_moves``)."""
    region, station = unique("region"), unique("PS")
    first = stuffing(station)
    del first["place"]
    assert stack.post(first).status_code == 202
    wait_until(lambda: stack.get(f"/v1/stations/{station}").json().get("total") == 1, 60)
    assert region not in {r["region"] for r in answers(stack)[0]}
    named = stuffing(station, place={"region": region, "city": unique()})
    assert stack.post(named).status_code == 202
    mine = lambda: {r["region"]: r for r in answers(stack)[0]}.get(region, {})
    wait_until(lambda: mine().get("incidents") == 2, 60)
    assert mine()["stations_with_incidents"] == 1
    wait_until(lambda: same_as_before(stack), timeout=30)
