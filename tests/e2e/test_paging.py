"""Keyset pages through the real services: walking a list while reports keep arriving shows
every item that existed once, never twice; bounded evidence; the as-of read model agrees
with a scan of the stored events."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from saylau.settings import Settings
from saylau.store import paging
from tests.factories import detention, envelope, stuffing, unique
from tests.stack import Stack, wait_until


def walk_while_posting(stack: Stack, path: str, key: str, more: Any,
                       **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, posting ``more()`` between pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = stack.get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        items += page.json()[key]
        cursor = page.json()["next"]
        if cursor is None:
            return items
        assert stack.post_batch(more()).status_code == 200


def visible(stack: Stack, events: list[dict[str, Any]]) -> None:
    for e in events:
        wait_until(lambda e=e: stack.get(f"/v1/events/{e['event_id']}").status_code == 200,
                   timeout=60)


def test_stations_breaches_and_timeline_page_without_duplicates_or_gaps(stack: Stack) -> None:
    region = unique("region")
    place = {"region": region, "city": unique()}
    stations = [unique("PS") for _ in range(9)]
    first = [stuffing(s, place=place) for s in stations for _ in range(2)]
    assert stack.post_batch(first).status_code == 200
    visible(stack, first)

    def more() -> list[dict[str, Any]]:  # new stations and more reports at known ones
        return [stuffing(unique("PS"), place=place), stuffing(stations[0], place=place)]

    walked = walk_while_posting(stack, "/v1/stations", "stations", more, region=region, limit=2)
    ids = [s["station_id"] for s in walked]
    assert len(ids) == len(set(ids)) and set(stations) <= set(ids)
    assert ids == sorted(ids)

    breaches = walk_while_posting(stack, "/v1/breaches", "breaches", more, region=region,
                                  limit=4)
    cited = [b["event_ids"][0] for b in breaches]
    assert len(cited) == len(set(cited)) and {e["event_id"] for e in first} <= set(cited)
    keys = [(datetime.fromisoformat(b["occurred_at"]), b["breach_id"]) for b in breaches]
    assert keys == sorted(keys, reverse=True)

    station = stations[1]
    at = [envelope("ballot.stuffing_observed", {"ballots": i + 1}, station_id=station,
                   place=place, occurred_at=f"2021-01-10T{10 + i // 6}:{i % 6}5:00+06:00")
          for i in range(12)]
    assert stack.post_batch(at).status_code == 200
    visible(stack, at)
    timeline = walk_while_posting(
        stack, f"/v1/stations/{station}/timeline", "events",
        lambda: [stuffing(station, place=place)], limit=5)
    seen = [e["event_id"] for e in timeline]
    assert len(seen) == len(set(seen)) and {e["event_id"] for e in at} <= set(seen)


def test_triage_queue_pages_urgent_first_without_duplicates(stack: Stack) -> None:
    place = {"region": unique("region"), "city": unique()}
    reports = [stuffing(unique("PS"), place=place) for _ in range(6)]
    assert stack.post_batch(reports).status_code == 200
    urgent = envelope("triage.escalated", {"event_id": reports[3]["event_id"],
                                           "reason": "violence"})
    assert stack.post(urgent).status_code == 202
    visible(stack, [*reports, urgent])
    queue = walk_while_posting(stack, "/v1/triage", "reports",
                               lambda: [stuffing(unique("PS"), place=place)], limit=50)
    ids = [r["event_id"] for r in queue]
    assert len(ids) == len(set(ids)) and {r["event_id"] for r in reports} <= set(ids)
    flags = [r["triage"]["urgent"] for r in queue]
    assert flags == sorted(flags, reverse=True)  # the urgent ones first
    assert next(r for r in queue if r["event_id"] == reports[3]["event_id"])["triage"]["urgent"]
    done = envelope("report.retracted", {"event_id": reports[3]["event_id"]})
    assert stack.post(done).status_code == 202  # leave no urgent report to other tests
    wait_until(lambda: reports[3]["event_id"] not in {
        r["event_id"] for r in stack.get("/v1/triage", limit=10).json()["reports"]})


@pytest.mark.parametrize("path", ["/v1/stations", "/v1/breaches", "/v1/triage",
                                  "/v1/stations/PS-1/timeline"])
def test_a_bad_cursor_or_too_large_a_page_is_422_naming_it(stack: Stack, path: str) -> None:
    another_lists = paging.encode("some_other_list", ["x"])
    for cursor in ("garbage", "eyJhIjoxfQ", another_lists, "\x00"):
        reply = stack.get(path, cursor=cursor)
        assert reply.status_code == 422, (cursor, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["query", "cursor"]
    reply = stack.get(path, limit=paging.MAX_PAGE + 1)
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["query", "limit"]


def test_dead_letters_page_too(stack: Stack) -> None:
    admin = {"Authorization": f"Bearer {stack.writer_key}"}
    url = f"{stack.api_url}/v1/admin/dead-letters"
    first = httpx.get(url, params={"limit": 1000}, headers=admin, timeout=30)
    assert first.status_code == 200 and set(first.json()) == {"dead_letters", "next"}
    bad = httpx.get(url, params={"cursor": "nope"}, headers=admin, timeout=30)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_surge_alert_shows_20_event_ids_and_pages_the_rest(stack: Stack) -> None:
    city = unique()
    reports = [detention(city, 1, occurred_at="2021-01-10T11:20:00+06:00") for _ in range(27)]
    assert stack.post_batch(reports).status_code == 200

    def alert() -> dict[str, Any] | None:
        found = stack.walk("/v1/breaches", "breaches", rule="detention.surge", region="Almaty")
        return next((b for b in found if b["place"]["city"] == city
                     and b["evidence_count"] == 27), None)

    surge = wait_until(alert, timeout=60)
    assert len(surge["event_ids"]) == 20
    evidence = stack.walk(f"/v1/breaches/{surge['breach_id']}/events", "events", limit=10)
    assert [e["event_id"] for e in evidence] == sorted(r["event_id"] for r in reports)
    assert {e["type"] for e in evidence} == {"detention.reported"}
    assert stack.get("/v1/breaches/00000000-0000-0000-0000-000000000000/events"
                     ).status_code == 404


STANDING_AS_OF = """
SELECT COALESCE(region, '(unknown)') AS region, COALESCE(city, '(unspecified)') AS city,
       sum((record->'payload'->>'count')::int) FILTER (WHERE type = 'detention.reported')
         AS detained,
       sum((record->'payload'->>'count')::int) FILTER (WHERE type = 'detention.released')
         AS released
FROM events WHERE type IN ('detention.reported', 'detention.released') AND occurred_at <= $1
  AND city = $2
  AND NOT EXISTS (SELECT 1 FROM events r WHERE r.type IN ('report.retracted', 'report.rejected')
                  AND r.record->'payload'->>'event_id' = events.event_id::text
                  AND r.occurred_at <= $1)
GROUP BY 1, 2
"""
"""The scan the as-of read model replaced: the oracle it must agree with."""


async def scanned(schema: str, at: datetime, city: str) -> tuple[int, int]:
    conn = await asyncpg.connect(Settings().database_url)
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        row = await conn.fetchrow(STANDING_AS_OF, at, city)
    finally:
        await conn.close()
    return (row["detained"] or 0, row["released"] or 0) if row else (0, 0)


def test_detentions_as_of_agree_with_a_scan_of_the_events(stack: Stack) -> None:
    city, day = unique(), "2021-01-10T"
    late = detention(city, 100, occurred_at=f"{day}12:00:30+06:00")
    events = [detention(city, 5, occurred_at=f"{day}11:00:00+06:00"),
              detention(city, 3, occurred_at=f"{day}12:00:10+06:00"), late,
              envelope("detention.released", {"count": 2}, place={"region": "Almaty",
                       "city": city}, occurred_at=f"{day}12:00:40+06:00"),
              envelope("report.retracted", {"event_id": late["event_id"]},
                       occurred_at=f"{day}12:00:50+06:00")]
    assert stack.post_batch(events).status_code == 200
    visible(stack, events)
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 8)
    for moment in ("10:59:59", "11:00:00", "12:00:00", "12:00:10", "12:00:35", "12:00:45",
                   "12:00:50", "12:01:00", "13:00:00"):
        at = datetime.fromisoformat(f"{day}{moment}+06:00")
        cities = stack.get("/v1/detentions", as_of=at.isoformat()).json()["cities"]
        mine = next((c for c in cities if c["city"] == city), None)
        got = (mine["detained_total"], mine["released_total"]) if mine else (0, 0)
        assert got == asyncio.run(scanned(stack.name, at, city)), moment
