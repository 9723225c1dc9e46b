"""The read models behind constant-cost reads, folded from plain batches; the keyset cursor."""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from saylau.domain.breach import DETENTION_SURGE, detention_surge
from saylau.domain.legal import CAMPAIGNING_WHILE_PROHIBITED
from saylau.domain.rules import RuleConfig
from saylau.envelope import Envelope
from saylau.log.decode import Decoded, Message
from saylau.readmodels import as_of, breaches, timeline, triage
from saylau.readmodels.base import Action, Batch, Counted
from saylau.readmodels.region_moves import RegionMoves
from saylau.store import paging
from tests.unit.builders import event

CONFIG = RuleConfig()
RECEIVED = "2021-01-10T05:06:00+00:00"
ALMATY = {"region": "Almaty", "city": "Almaty"}


def applied(*events: Envelope) -> list[Decoded]:
    return [Decoded(Message(0, i, b"{}"), {"partner": "p", "received_at": RECEIVED}, e)
            for i, e in enumerate(events)]


def test_reports_are_counted_per_utc_minute_and_triage_events_are_not() -> None:
    a = event("ballot.stuffing_observed", "2021-01-10T11:20:05+06:00", {"ballots": 3}, key="a",
              place=ALMATY)
    b = event("ballot.stuffing_observed", "2021-01-10T05:20:59+00:00", {"ballots": 3}, key="b")
    check = event("report.verified", "2021-01-10T11:20:30+06:00", {"event_id": str(a.event_id)},
                  place=ALMATY)
    national, regional = timeline.fold(Batch(applied=applied(a, b, check)), CONFIG)
    assert national == {datetime(2021, 1, 10, 5, 20, tzinfo=UTC): 2}
    assert regional == {("Almaty", datetime(2021, 1, 10, 5, 20, tzinfo=UTC)): 1}


def test_a_withdrawn_detention_is_taken_back_at_the_minute_its_withdrawal_took_effect() -> None:
    report = event("detention.reported", "2021-01-10T12:00:30+06:00", {"count": 100},
                   place=ALMATY)
    retracted_at = datetime(2021, 1, 10, 7, 5, 10, tzinfo=UTC)
    rows = as_of.fold(Batch(counted=[Counted(report, 1, ()),
                                     Counted(report, -1, (), retracted_at)]), CONFIG)
    assert dict(rows.minutes) == {
        (datetime(2021, 1, 10, 6, 0, tzinfo=UTC), "Almaty", "Almaty"): [100, 0],
        (datetime(2021, 1, 10, 7, 5, tzinfo=UTC), "Almaty", "Almaty"): [-100, 0]}
    [row] = rows.reports.values()
    assert row[5] == report.occurred_at and row[6] == retracted_at


def test_a_withdrawal_dated_before_its_report_takes_it_back_at_the_report_itself() -> None:
    report = event("detention.released", "2021-01-10T12:00:00+06:00", {"count": 2})
    early = datetime(2021, 1, 10, 1, 0, tzinfo=UTC)
    rows = as_of.fold(Batch(counted=[Counted(report, -1, (), early)]), CONFIG)
    assert dict(rows.minutes) == {
        (datetime(2021, 1, 10, 6, 0, tzinfo=UTC), "(unknown)", "(unspecified)"): [0, -2]}
    assert next(iter(rows.reports.values()))[6] == report.occurred_at


def test_the_triage_queue_takes_new_reports_drops_judged_ones_and_raises_escalated() -> None:
    report = event("ballot.stuffing_observed", "2021-01-10T11:00:00+06:00", {"ballots": 1})
    earlier = uuid.uuid4()
    verdict = event("report.verified", "2021-01-10T11:05:00+06:00", {"event_id": str(earlier)})
    urgent = event("triage.escalated", "2021-01-10T11:06:00+06:00",
                   {"event_id": str(report.event_id), "reason": "violence"})
    rows = triage.fold(Batch(applied=applied(report, verdict, urgent),
                             statuses={earlier: "verified"},
                             actions=[Action(urgent, "p", "user:dana")]), CONFIG)
    assert rows.queued == [(report.event_id, datetime.fromisoformat(RECEIVED))]
    assert rows.judged == [earlier]
    assert rows.escalated == [report.event_id]
    assert [a[1:3] for a in rows.actions] == [(str(report.event_id), "escalated")]
    assert [a[4:6] for a in rows.actions] == [("p", "user:dana")]


def test_a_report_judged_in_its_own_batch_never_joins_the_triage_queue() -> None:
    report = event("ballot.stuffing_observed", "2021-01-10T11:00:00+06:00", {"ballots": 1})
    other = event("ballot.stuffing_observed", "2021-01-10T11:01:00+06:00", {"ballots": 2})
    verdict = event("report.rejected", "2021-01-10T11:05:00+06:00",
                    {"event_id": str(report.event_id), "reason": "duplicate"})
    rows = triage.fold(Batch(applied=applied(report, other, verdict),
                             statuses={report.event_id: "rejected"}), CONFIG)
    assert [event_id for event_id, _ in rows.queued] == [other.event_id]
    assert rows.judged == [report.event_id]


def test_a_breach_shows_its_first_20_event_ids_and_how_many_it_cites() -> None:
    ids = sorted(str(uuid.uuid4()) for _ in range(45))
    shown = breaches.evidence(ids)
    assert shown == {"event_ids": ids[:20], "evidence_count": 45}


def test_a_cursor_names_its_list_and_key_and_nothing_else_passes() -> None:
    at, some = datetime(2021, 1, 10, 5, 0, tzinfo=UTC), uuid.uuid4()
    spec = (paging.integer, paging.timestamp, paging.uuid_text)
    cursor = paging.encode("triage", [1, at, some])
    assert paging.decode("triage", cursor, spec) == (1, at, some)
    for bad in ("", "garbage!", paging.encode("breaches", [1, at, some]),
                paging.encode("triage", [1, at]), paging.encode("triage", ["1", at, some]),
                paging.encode("triage", [1, "2021-01-10T05:00:00", some]),
                raw_cursor(["triage", 2**70, at.isoformat(), str(some)]),
                raw_cursor(["triage", 1.5, at.isoformat(), str(some)]),
                paging.encode("triage", [1, at, None])):
        with pytest.raises(paging.BadCursor):
            paging.decode("triage", bad, spec)


def raw_cursor(value: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_a_page_has_a_next_cursor_only_when_more_rows_follow() -> None:
    rows = [{"id": f"s{i}"} for i in range(4)]
    assert paging.page("stations", rows, 3, lambda r: [r["id"]]) == (
        rows[:3], paging.encode("stations", ["s2"]))
    assert paging.page("stations", rows[:3], 3, lambda r: [r["id"]]) == (rows[:3], None)
    assert paging.page("stations", [], 3, lambda r: [r["id"]]) == ([], None)


def test_a_station_moves_its_regions_sums_by_what_the_write_changed() -> None:
    moves = RegionMoves()
    moves.station("Almaty", 3, 3, None, seen=True)  # new: a station with incidents, 3 reports
    moves.station("Almaty", 5, 2, "Almaty", seen=True)  # 3 before: still one station, +2
    moves.station("Almaty", 0, -1, "Almaty", seen=True)  # its last report withdrawn
    moves.station("Atyrau", 0, 0, None, seen=True)  # a row with nothing counted yet
    moves.station(None, 4, 4, None, seen=True)  # names no region: counts in none
    assert moves.moves == {"Almaty": [1 + 0 - 1, 3 + 2 - 1, 0, 0], "Atyrau": [0, 0, 0, 0]}
    assert not moves.recount and moves.regions() == ["Almaty", "Atyrau"]


def test_a_move_not_known_exactly_asks_for_a_recount_of_its_region() -> None:
    moves = RegionMoves()
    moves.station("Almaty", 5, 2, None, seen=True)  # 3 reports counted in no region before
    moves.station("Atyrau", 2, 1, None, seen=False)  # another worker inserted it meanwhile
    moves.station("Aktobe", 2, 2, None, seen=True)  # nothing before: where is irrelevant
    assert moves.recount == {"Almaty", "Atyrau"} and list(moves.moves) == ["Aktobe"]
    assert moves.regions() == ["Aktobe", "Almaty", "Atyrau"]


def test_a_city_moves_people_detained_and_still_held() -> None:
    moves = RegionMoves()
    moves.city("Almaty", 30, 0, 30, 0)  # 30 detained
    moves.city("Almaty", 30, 40, 0, 40)  # 40 released: none held, never below zero
    moves.city("Almaty", 50, 40, 20, 0)  # 20 more: 10 held
    moves.city("Atyrau", 5, 0, -2, 0)  # a retracted report takes 2 back
    assert moves.moves == {"Almaty": [0, 0, 50, 30 - 30 + 10], "Atyrau": [0, 0, -2, -2]}


def test_open_breach_counts_move_by_what_a_write_changed() -> None:
    stuffing_cao = ("Almaty", "ballot.stuffing", "high", "CAO", "103")
    surge = ("Almaty", DETENTION_SURGE, "medium", "", "")
    elsewhere = ("", "ballot.stuffing", "high", "CAO", "103")
    assert breaches.open_deltas([], [(stuffing_cao, "open"), (surge, "open")]) == {
        stuffing_cao: 1, surge: 1}  # found
    assert breaches.open_deltas([(surge, "open")], [(surge, "withdrawn")]) == {surge: -1}
    assert breaches.open_deltas([(surge, "withdrawn")], [(surge, "open")]) == {surge: 1}
    assert +breaches.open_deltas([(surge, "open")], [(surge, "open")]) == {}  # evidence grew
    assert breaches.open_deltas([(stuffing_cao, "open")], [(elsewhere, "open")]) == {
        stuffing_cao: -1, elsewhere: 1}  # the report's place was corrected
    assert breaches.open_deltas([(surge, "withdrawn")], []) == {}  # a withdrawn one deleted


def test_a_breach_counts_under_the_keys_the_summary_groups_by() -> None:
    surge = detention_surge("Almaty", "Almaty", datetime(2021, 1, 10, 6, tzinfo=UTC), 30,
                            ["x"], CONFIG)
    assert surge is not None
    assert breaches.count_key(surge) == ("Almaty", DETENTION_SURGE, surge.severity, "", "")
    legal = replace(surge, region=None, legal_ref=CAMPAIGNING_WHILE_PROHIBITED)
    assert breaches.count_key(legal) == ("", DETENTION_SURGE, surge.severity, "CAO",
                                          CAMPAIGNING_WHILE_PROHIBITED.article)


def test_the_hours_of_as_of_are_the_sums_of_their_minutes() -> None:
    minute = datetime(2021, 1, 10, 6, 59, tzinfo=UTC)
    rows = {(minute, "Almaty", "Almaty"): [5, 1],
            (minute.replace(minute=3), "Almaty", "Almaty"): [2, 0],
            (minute.replace(hour=7, minute=0), "Almaty", "Almaty"): [-5, 0],
            (minute, "Astana", "Astana"): [1, 1]}
    assert dict(as_of.hours_of(rows)) == {
        (minute.replace(minute=0), "Almaty", "Almaty"): [7, 1],
        (minute.replace(hour=7, minute=0), "Almaty", "Almaty"): [-5, 0],
        (minute.replace(minute=0), "Astana", "Astana"): [1, 1]}
