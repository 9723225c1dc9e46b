"""A report that names only its station (as the observer app sends it) is projected in its
station's registry region (issue 31 item 1): its coordinator finds it in her breaches, her
timeline, her regions' roll-up and her stations, the other region's coordinator nowhere; a
registration earlier in the same batch counts, and so does a later one that moves the
station; a replay of the log builds the same read models."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_audit import ALL_EQUAL, fetch, ok, saylau
from tests.e2e.test_rollups import same_as_before
from tests.factories import envelope, stuffing, unique
from tests.stack import Stack, wait_until

A, B = "Aktobe", "Atyrau"
ELECTION = "kz-2021-01-10"


def registered(station: str, region: str, occurred_at: str) -> dict[str, Any]:
    return envelope("station.registered", {"number": 7, "address": unique("school"),
                                           "region": region, "registered_voters": 900},
                    station_id=station, election_id=ELECTION, occurred_at=occurred_at)


def observed(station: str, occurred_at: str = "2021-01-10T11:20:00+06:00",
             **fields: Any) -> dict[str, Any]:
    """A ballot-stuffing report naming its station alone (no ``place``), or ``fields``'."""
    report = stuffing(station, occurred_at=occurred_at, **fields)
    if "place" not in fields:
        del report["place"]
    return report


class Day:
    """Stations registered in A (one in a batch before, one in the batch of its report) and
    in B; reports naming their station only; one naming B's place at A's station."""

    def __init__(self) -> None:
        self.early, self.late, self.other = unique("PS"), unique("PS"), unique("PS")
        self.reports = {self.early: [observed(self.early),
                                     observed(self.early, place={"region": B})],
                        self.late: [observed(self.late)], self.other: [observed(self.other)]}

    def post(self, stack: Stack) -> None:
        first = [registered(self.early, A, "2021-01-10T07:00:00+06:00"),
                 registered(self.other, B, "2021-01-10T07:00:00+06:00")]
        assert codes(stack, first) == [202, 202]
        wait_until(lambda: registry_of(stack, self.early) == A, 60)
        batch = [registered(self.late, A, "2021-01-10T07:00:00+06:00"),
                 *[r for reports in self.reports.values() for r in reports]]
        assert codes(stack, batch) == [202] * len(batch)


def codes(stack: Stack, events: list[dict[str, Any]]) -> list[int]:
    return [r["code"] for r in stack.post_batch(events).json()["results"]]


def registry_of(stack: Stack, station: str) -> str | None:
    rows = fetch(f'SELECT region FROM "{stack.name}".station_registry WHERE station_id = $1',
                 station)
    return rows[0]["region"] if rows else None


def region_of(stack: Stack, event_id: str) -> str | None:
    rows = fetch(f'SELECT region FROM "{stack.name}".events WHERE event_id = $1::uuid',
                 event_id)
    return rows[0]["region"] if rows else "missing"


@pytest.fixture(scope="module")
def day() -> Iterator[tuple[Stack, Day, dict[str, str]]]:
    stack, day = Stack().start(), Day()
    try:
        keys = {r: stack.add_key(f"coordinator-{r.lower()}", ["read"], [r]) for r in (A, B)}
        day.post(stack)
        wait_until(lambda: all(region_of(stack, r["event_id"]) != "missing"
                               for reports in day.reports.values() for r in reports), 60)
        yield stack, day, keys
    finally:
        stack.stop()


def get(stack: Stack, path: str, key: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}{path}", timeout=30,
                     headers={"Authorization": f"Bearer {key}"})


def read(stack: Stack, path: str, key: str) -> Any:
    answer = get(stack, path, key)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def test_reports_naming_only_their_station_are_stored_in_its_registry_region(
        day: tuple[Stack, Day, dict[str, str]]) -> None:
    stack, d, _ = day
    assert {station: [region_of(stack, r["event_id"]) for r in reports]
            for station, reports in d.reports.items()} == {
        d.early: [A, A], d.late: [A], d.other: [B]}
    breaches = fetch(f'SELECT DISTINCT station_id, region FROM "{stack.name}".breaches '
                     "WHERE station_id = ANY($1::text[])", list(d.reports))
    assert {(r["station_id"], r["region"]) for r in breaches} == {
        (d.early, A), (d.late, A), (d.other, B)}


def test_her_breaches_timeline_regions_and_stations_hold_them_and_not_the_others(
        day: tuple[Stack, Day, dict[str, str]]) -> None:
    stack, d, keys = day
    mine, theirs = {d.early, d.late}, {d.other}
    for region, own, other in ((A, mine, theirs), (B, theirs, mine)):
        key = keys[region]
        stations = {b["station_id"] for b in read(stack, "/v1/breaches", key)["breaches"]}
        assert own <= stations and not other & stations, region
        listed = {s["station_id"] for s in read(stack, "/v1/stations", key)["stations"]}
        assert listed == own, region
        rows = read(stack, "/v1/regions", key)["regions"]
        assert [(r["region"], r["stations_with_incidents"], r["incidents"]) for r in rows] == [
            (region, len(own), sum(len(d.reports[s]) for s in own))], region
        buckets = read(stack, "/v1/timeline", key)["buckets"]
        assert sum(b["reports"] for b in buckets) == sum(len(d.reports[s]) for s in own)
        for station in other:
            assert get(stack, f"/v1/stations/{station}", key).status_code == 404


def test_a_station_registered_anew_in_another_region_moves_and_replay_equals_live(
        day: tuple[Stack, Day, dict[str, str]], schemas: list[str]) -> None:
    stack, d, _ = day
    later = observed(d.early, occurred_at="2021-01-10T12:20:00+06:00")
    moved = [registered(d.early, B, "2021-01-10T09:00:00+06:00"), later]
    assert codes(stack, moved) == [202, 202]
    wait_until(lambda: region_of(stack, later["event_id"]) == B, 60)
    assert [region_of(stack, r["event_id"]) for r in d.reports[d.early]] == [A, A]
    rows = {r["region"]: r["stations_with_incidents"]
            for r in read(stack, "/v1/regions", stack.reader_key)["regions"]
            if r["region"] in (A, B)}
    assert rows == {A: 1, B: 2}  # the station's row (all its reports) is in B now
    assert same_as_before(stack)  # the roll-ups equal a recount of their tables
    schemas += [f"replay_{stack.name}", f"replay_{stack.name}_shuffled"]
    ok(saylau(stack, "replay", "--schema", schemas[0], "--batch", "1"))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[0]))
    ok(saylau(stack, "replay", "--schema", schemas[1], "--order", "shuffle", "--seed", "5"))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[1]))
