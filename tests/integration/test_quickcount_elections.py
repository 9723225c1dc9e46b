"""The quick count's inputs against real PostgreSQL: each figure belongs to one election (its
envelope's ``election_id``, else the election whose calendar window holds it), so a second
round at the same stations never mixes with the first."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from saylau.domain.quickcount import FrameStation, draw_sample
from saylau.readmodels.postgres import PostgresProjectionStore
from saylau.readmodels.quickcount import Inputs, load_inputs
from services.ingest.routes.quickcount import sample_event
from tests.factories import envelope
from tests.projection_store import throwaway_store
from tests.unit.batch_contract import message, projection

pytestmark = pytest.mark.integration
FIRST = "kz-2021-01-10"
"""The first round: its reports name no election, its calendar's window holds them."""
FRAME = [FrameStation(f"PS-{r}-{i}", r, 1000) for r in ("North", "South") for i in range(2)]


@pytest.fixture
async def store() -> AsyncIterator[PostgresProjectionStore]:
    async with throwaway_store("tqc_", projection().topic) as store:
        yield store


def registrations() -> list[dict[str, Any]]:
    return [envelope("station.registered", {"number": n + 1, "address": "School",
                                            "region": s.region, "registered_voters": 1000},
                     station_id=s.station_id, occurred_at="2021-01-05T10:00:00+06:00")
            for n, s in enumerate(FRAME)]


def round_of(voters: int, day: str, **fields: Any) -> list[dict[str, Any]]:
    """Each station's 20:00 count and protocol on ``day``."""
    events = []
    for s in FRAME:
        at = {"station_id": s.station_id, "place": {"region": s.region}, **fields}
        events += [envelope("turnout.reported", {"hour": 20, "voters": voters},
                            occurred_at=f"{day}T20:05:00+06:00", **at),
                   envelope("protocol.reported", {
                       "voters_on_list": 1000, "ballots_issued": voters, "ballots_cast": voters,
                       "invalid_ballots": 0, "votes": {"A": voters - 100, "B": 100}},
                            occurred_at=f"{day}T22:00:00+06:00", **at)]
    return events


async def apply(store: PostgresProjectionStore, events: list[dict[str, Any]]) -> None:
    offset = int(await store.conn.fetchval(
        f'SELECT COALESCE(max(next_offset), 0) FROM "{store.schema}".projector_offsets'))
    await projection().apply_to(store, [message(offset + i, e) for i, e in enumerate(events)])


async def inputs(store: PostgresProjectionStore, election_id: str) -> Inputs:
    async with store.transaction():
        found = await load_inputs(store.conn, election_id)
    assert found is not None
    return found


async def test_a_second_round_at_the_same_stations_keeps_its_own_figures(
        store: PostgresProjectionStore) -> None:
    runoff = "runoff-" + uuid.uuid4().hex[:8]
    drawn = datetime(2021, 1, 9, tzinfo=UTC)
    samples = [sample_event(draw_sample(FRAME, 4, 1, election_id=e, drawn_at=drawn))
               for e in (FIRST, runoff)]
    await apply(store, registrations() + samples)
    await apply(store, round_of(500, "2021-01-10"))  # no election_id: the calendar's
    await apply(store, round_of(800, "2021-01-24", election_id=runoff))  # same window, named

    first, second = await inputs(store, FIRST), await inputs(store, runoff)
    assert sorted(t.voters for t in first.turnout) == [500] * 4
    assert sorted(t.voters for t in second.turnout) == [800] * 4
    assert [p.votes["A"] for p in first.protocols] == [400] * 4
    assert [p.votes["A"] for p in second.protocols] == [700] * 4


async def test_a_second_rounds_counts_are_a_series_of_their_own(
        store: PostgresProjectionStore) -> None:
    """The runoff's 19:00 count next to the first round's 20:00 count is no jump."""
    runoff = "runoff-" + uuid.uuid4().hex[:8]
    station = FRAME[0]
    at = {"station_id": station.station_id, "place": {"region": station.region}}
    await apply(store, [*registrations(),
                        envelope("turnout.reported", {"hour": 20, "voters": 500},
                                 occurred_at="2021-01-10T20:05:00+06:00", **at),
                        envelope("turnout.reported", {"hour": 19, "voters": 0}, election_id=runoff,
                                 occurred_at="2021-01-24T19:05:00+06:00", **at)])
    jumps = await store.conn.fetch(
        f'SELECT election_id FROM "{store.schema}".breaches WHERE rule_id = $1', "turnout.jump")
    assert jumps == []
    await apply(store, [envelope("turnout.reported", {"hour": 20, "voters": 900},
                                 election_id=runoff, occurred_at="2021-01-24T20:05:00+06:00",
                                 **at)])
    jumps = await store.conn.fetch(
        f'SELECT election_id FROM "{store.schema}".breaches WHERE rule_id = $1', "turnout.jump")
    assert [r["election_id"] for r in jumps] == [runoff]


def official(turnout: float, at: str = "2021-01-11T10:00:00+06:00") -> dict[str, Any]:
    return envelope("official.results_announced", {
        "level": "national", "turnout_percent": turnout, "source": "CEC"},
        election_id=FIRST, occurred_at=at)


async def discrepancies(store: PostgresProjectionStore) -> list[str]:
    rows = await store.conn.fetch(f'SELECT detail->>\'official\' AS official FROM '
                                  f'"{store.schema}".breaches WHERE rule_id = $1',
                                  "quickcount.discrepancy")
    return [r["official"] for r in rows]


async def test_only_final_figures_count_towards_the_alerts_threshold(
        store: PostgresProjectionStore) -> None:
    """Seven protocols and three 18:00 counts: all ten reported, but only 70 % are final, so
    the right official turnout is no discrepancy; once the 20:00 counts (the calendar's
    closing hour) arrive, a wrong one is."""
    frame = [FrameStation(f"PS-{r}-{i}", r, 1000) for r in ("North", "South") for i in range(6)]
    sample = draw_sample(frame, 10, 3, election_id=FIRST,
                         drawn_at=datetime(2021, 1, 9, tzinfo=UTC))
    region = {s.station_id: s.region for s in frame}
    ids = sorted(sample.station_ids, key=lambda s: (region[s] == "South", s))
    finals, early = ids[:7], ids[7:]

    def count(station: str, hour: int, voters: int) -> dict[str, Any]:
        return envelope("turnout.reported", {"hour": hour, "voters": voters},
                        station_id=station, place={"region": region[station]},
                        occurred_at=f"2021-01-10T{hour}:05:00+06:00")

    def protocol(station: str, voters: int) -> dict[str, Any]:
        return envelope("protocol.reported", {
            "voters_on_list": 1000, "ballots_issued": voters, "ballots_cast": voters,
            "invalid_ballots": 0, "votes": {"A": voters}}, station_id=station,
            place={"region": region[station]}, occurred_at="2021-01-10T22:00:00+06:00")

    registered = [envelope("station.registered", {"number": n + 1, "address": "School",
                                                  "region": s.region, "registered_voters": 1000},
                           station_id=s.station_id, occurred_at="2021-01-05T10:00:00+06:00")
                  for n, s in enumerate(frame)]
    await apply(store, [*registered, sample_event(sample),
                        *[protocol(s, 580 + 10 * n) for n, s in enumerate(finals)],
                        *[count(s, 18, 350) for s in early], official(61.0)])
    assert await discrepancies(store) == []  # 10 of 10 reported, 7 final: below 80 %

    await apply(store, [count(s, 20, 590 + 10 * n) for n, s in enumerate(early)])
    assert await discrepancies(store) == []  # all final now, and 61 % is right
    await apply(store, [official(75.0, "2021-01-11T12:00:00+06:00")])
    assert await discrepancies(store) == ["75.0"]
