"""Every breach rule on both sides of its boundary, in the election's own local time."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from saylau.domain import legal
from saylau.domain.calendar import Calendars
from saylau.domain.rules import (
    Breach,
    LegalRef,
    RuleConfig,
    breaches,
    detention_surge,
    surge_bucket_start,
    withdrawn_by,
    withdrawn_event_id,
)
from saylau.envelope import Envelope
from tests.unit.builders import ASTANA, ORAL, PETROPAVLOVSK, calendars, event

CONFIG = RuleConfig()
SPEECH = {"actor_kind": "candidate", "actor": "Marat Zhylanbayev", "channel": "social_network"}
QUALIFIED_POLL = {"publisher_kind": "legal_entity", "publisher": "Strategy", "channel": "print",
                  "years_experience": 20, "commission_notified": True}
CANCELLED = {"candidate": "Asylbek Kozhakhmetov", "reason": "tax declaration"}


def rule_ids(envelope: Envelope, config: RuleConfig = CONFIG) -> list[str]:
    return [b.rule_id for b in breaches(envelope, calendars(), config)]


def cited(breach: Breach) -> LegalRef:
    assert breach.legal_ref is not None
    return breach.legal_ref


# --- campaigning before the period / during silence (Art. 102 CAO) ---

@pytest.mark.parametrize(("at", "expected"), [
    ("2023-01-19T00:00:00+06:00", ["campaigning.before_period"]),
    ("2023-02-18T17:59:00+06:00", ["campaigning.before_period"]),
    ("2023-02-18T18:00:00+06:00", []),
    ("2023-03-17T23:59:00+06:00", []),
    ("2023-03-18T00:00:00+06:00", ["campaigning.during_silence"]),
    ("2023-03-19T23:59:00+06:00", ["campaigning.during_silence"]),
    ("2023-03-20T00:00:00+06:00", []),
])
def test_campaigning_is_judged_against_the_2023_calendar(at: str, expected: list[str]) -> None:
    assert rule_ids(event("campaigning.observed", at, SPEECH, place=ASTANA)) == expected


@pytest.mark.parametrize(("at", "expected"), [
    ("2023-02-18T17:59:00+05:00", ["campaigning.before_period"]),
    ("2023-02-18T18:00:00+05:00", []),
    ("2023-02-18T18:30:00+06:00", ["campaigning.before_period"]),  # 17:30 in Oral
])
def test_campaign_start_is_local_time_in_the_western_zone(at: str, expected: list[str]) -> None:
    assert rule_ids(event("campaigning.observed", at, SPEECH, place=ORAL)) == expected


def test_campaigning_before_the_announcement_belongs_to_no_election() -> None:
    assert rule_ids(event("campaigning.observed", "2023-01-18T23:59:00+06:00", SPEECH)) == []


def test_2021_silence_day_starts_at_midnight_on_9_january() -> None:
    before = event("campaigning.observed", "2021-01-08T23:59:00+06:00", SPEECH)
    after = event("campaigning.observed", "2021-01-09T00:00:00+06:00", SPEECH)
    assert (rule_ids(before), rule_ids(after)) == ([], ["campaigning.during_silence"])


def test_prohibited_campaigning_cites_article_102_cao() -> None:
    [breach] = breaches(event("campaigning.observed", "2023-01-28T12:00:00+06:00", SPEECH),
                        calendars(), CONFIG)
    assert (breach.legal_ref, breach.election_id, breach.kind) == (
        legal.CAMPAIGNING_WHILE_PROHIBITED, "kz-2023-03-19", "legal")
    assert (cited(breach).code, cited(breach).article) == ("CAO", "102")


# --- polls (Elections Law Art. 28 §9) ---

@pytest.mark.parametrize(("at", "expected"), [
    ("2023-03-13T23:59:00+06:00", []),
    ("2023-03-14T00:00:00+06:00", ["poll.during_blackout"]),
    ("2023-03-19T23:59:00+06:00", ["poll.during_blackout"]),
    ("2023-03-20T00:00:00+06:00", []),
    ("2021-01-04T23:59:00+06:00", []),
    ("2021-01-05T00:00:00+06:00", ["poll.during_blackout"]),
])
def test_poll_blackout_boundaries(at: str, expected: list[str]) -> None:
    assert rule_ids(event("poll.published", at, QUALIFIED_POLL, place=ASTANA)) == expected


@pytest.mark.parametrize(("changes", "expected"), [
    ({"years_experience": 4}, ["poll.unqualified_pollster"]),
    ({"years_experience": 5}, []),
    ({"commission_notified": False}, ["poll.unqualified_pollster"]),
    ({"publisher_kind": "individual"}, ["poll.unqualified_pollster"]),
])
def test_who_may_run_polls(changes: dict[str, object], expected: list[str]) -> None:
    poll = event("poll.published", "2023-03-01T12:00:00+06:00", {**QUALIFIED_POLL, **changes})
    assert rule_ids(poll) == expected


def test_unqualified_poll_title_names_every_shortcoming() -> None:
    payload = {**QUALIFIED_POLL, "years_experience": 0, "commission_notified": False}
    [breach] = breaches(event("poll.published", "2023-03-01T12:00:00+06:00", payload),
                        calendars(), CONFIG)
    assert "5 years" in breach.title and "not notified" in breach.title


def test_individual_poll_is_judged_from_the_campaign_start() -> None:
    individual = {"publisher_kind": "individual", "publisher": "blogger", "channel": "messenger"}
    before = event("poll.published", "2023-02-18T17:59:00+06:00", individual)
    after = event("poll.published", "2023-02-18T18:00:00+06:00", individual)
    assert (rule_ids(before), rule_ids(after)) == ([], ["poll.unqualified_pollster"])


def test_individual_poll_in_the_blackout_breaks_both_parts_of_the_rule() -> None:
    individual = {"publisher_kind": "individual", "publisher": "blogger", "channel": "messenger"}
    poll = event("poll.published", "2023-03-15T10:00:00+06:00", individual)
    assert rule_ids(poll) == ["poll.during_blackout", "poll.unqualified_pollster"]


# --- de-registration (Elections Law Art. 89 §4-3) ---

@pytest.mark.parametrize(("at", "expected"), [
    ("2023-03-16T23:59:00+06:00", []),
    ("2023-03-17T00:00:00+06:00", ["candidate.deregistered_too_late"]),
    ("2023-03-03T12:00:00+06:00", []),
    ("2021-01-07T23:59:00+06:00", []),
    ("2021-01-08T00:00:00+06:00", ["candidate.deregistered_too_late"]),
])
def test_deregistration_closes_two_days_before_voting(at: str, expected: list[str]) -> None:
    assert rule_ids(event("candidate.registration_cancelled", at, CANCELLED)) == expected


# --- observers (Elections Law Arts. 20-1, 20-2) ---

@pytest.mark.parametrize(("at", "expected"), [
    ("2021-01-09T12:00:00+06:00", []),
    ("2021-01-10T05:59:00+06:00", []),
    ("2021-01-10T06:00:00+06:00", ["observer.refused_entry"]),
    ("2021-01-10T06:59:00+06:00", ["observer.refused_entry"]),
    ("2021-01-10T07:00:00+06:00", ["observer.refused_entry"]),
    ("2021-01-10T23:59:00+06:00", ["observer.refused_entry"]),
    ("2021-01-11T00:00:00+06:00", []),
])
def test_observers_are_entitled_from_the_commissions_working_day(at: str,
                                                                expected: list[str]) -> None:
    refused = event("observer.access_denied", at, {"observers": 4, "organisation": "El Dauysy"},
                    station_id="PS-660", place=PETROPAVLOVSK)
    assert rule_ids(refused) == expected


@pytest.mark.parametrize(("at", "expected"), [
    ("2021-01-10T05:59:00+05:00", []),
    ("2021-01-10T06:00:00+05:00", ["observer.expelled"]),
    ("2021-01-10T06:30:00+06:00", []),  # 05:30 in West Kazakhstan
])
def test_observer_hours_are_local_to_the_station(at: str, expected: list[str]) -> None:
    expelled = event("observer.expelled", at, {"reason_kind": "filming"},
                     station_id="PS-WKO-1", place={"region": "West Kazakhstan"})
    assert rule_ids(expelled) == expected


def test_observer_rules_need_an_election() -> None:
    unknown = event("observer.access_denied", "2021-01-10T10:00:00+06:00", {"observers": 1},
                    election_id="kz-1999-10-10")
    assert rule_ids(unknown) == []


# --- rules that hold whatever the date ---

def test_ballot_stuffing_is_critical_even_without_an_election() -> None:
    stuffing = event("ballot.stuffing_observed", "2019-06-09T12:00:00+06:00", {"ballots": 5})
    [breach] = breaches(stuffing, calendars(), CONFIG)
    assert (breach.rule_id, breach.severity, breach.election_id) == (
        "ballot.stuffing", "critical", None)
    assert (cited(breach).code, cited(breach).article) == ("CC", "151")


@pytest.mark.parametrize(("type_name", "payload", "code", "article", "part"), [
    ("campaign_material.anonymous", {"distributor_kind": "media"}, "CAO", "113", None),
    ("campaign_material.damaged", {"material": "poster"}, "CAO", "114", None),
    ("campaigning.obstructed", {"candidate": "X"}, "CAO", "103", None),
    ("campaigning.inducement", {"inducement": "free taxi rides"}, "CAO", "122", "2"),
    ("campaigning.by_commission_member", {"commission": "PEC 12"}, "CAO", "122", "1"),
    ("media.campaign_terms_unreported", {"outlet": "Atyrau daily"}, "CAO", "112", "5"),
])
def test_campaign_offences_cite_their_article(type_name: str, payload: dict[str, object],
                                              code: str, article: str, part: str | None) -> None:
    [breach] = breaches(event(type_name, "2023-03-01T12:00:00+06:00", payload), calendars(),
                        CONFIG)
    ref = cited(breach)
    assert (breach.rule_id, ref.code, ref.article, ref.part) == (type_name, code, article, part)


@pytest.mark.parametrize("type_name", [
    "station.opened", "fine.imposed", "detention.released", "report.verified"])
def test_neutral_events_break_no_rule(type_name: str) -> None:
    payloads: dict[str, dict[str, Any]] = {"fine.imposed": {"article": "102", "amount": 51750},
                "detention.released": {"count": 1},
                "report.verified": {"event_id": "6f2c1a7e-3b9d-4c51-9a0e-21c7d4b8e660"}}
    assert rule_ids(event(type_name, "2023-03-19T08:00:00+06:00",
                          payloads.get(type_name, {}))) == []


def test_old_payload_versions_are_upcast_before_the_rules_run() -> None:
    old = event("detention.reported", "2021-01-10T12:00:00+06:00",
                {"count": 2, "persons": ["A", "B"]}, place=ASTANA, version=1)
    assert rule_ids(old) == []


# --- kettling alert ---

def kettle(hours: str, temperature: float, *, ended: bool = True) -> Envelope:
    payload: dict[str, Any] = {"started_at": "2021-01-10T12:00:00+06:00", "air_temperature_c": temperature}
    if ended:
        payload["ended_at"] = f"2021-01-10T{hours}+06:00"
    return event("protest.kettled", "2021-01-10T12:00:00+06:00", payload, place=ASTANA,
                 key=f"{hours}{temperature}{ended}")


@pytest.mark.parametrize(("ended_at", "temperature", "expected"), [
    ("15:00:00", -1.0, ["protest.kettled_in_cold"]),
    ("15:00:00", 1.0, []),
    ("15:00:00", 0.0, []),
    ("14:59:00", -1.0, []),
    ("21:00:00", -10.0, ["protest.kettled_in_cold"]),
])
def test_kettling_for_k_hours_below_freezing(ended_at: str, temperature: float,
                                            expected: list[str]) -> None:
    assert rule_ids(kettle(ended_at, temperature)) == expected


def test_kettling_alert_has_no_legal_reference() -> None:
    [alert] = breaches(kettle("21:00:00", -10.0), calendars(), CONFIG)
    assert (alert.kind, alert.legal_ref, alert.severity) == ("alert", None, "high")


def test_ongoing_kettle_is_not_judged_yet() -> None:
    assert rule_ids(kettle("", -10.0, ended=False)) == []


def test_kettling_threshold_is_configurable() -> None:
    strict = RuleConfig(kettling_max_hours=1.0, kettling_max_temp_c=5.0)
    assert rule_ids(kettle("13:00:00", 4.0), strict) == ["protest.kettled_in_cold"]


# --- detention surge alert ---

def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_surge_alert_only_above_the_threshold() -> None:
    bucket = at("2021-01-10T06:00:00+00:00")
    assert detention_surge("Almaty", "Almaty", bucket, 20, ["e1"], CONFIG) is None
    alert = detention_surge("Almaty", "Almaty", bucket, 21, ["e1"], CONFIG)
    assert alert is not None
    assert (alert.rule_id, alert.kind, alert.legal_ref) == ("detention.surge", "alert", None)


def test_surge_id_is_stable_as_events_are_added() -> None:
    bucket = at("2021-01-10T06:00:00+00:00")
    first = detention_surge("Almaty", "Almaty", bucket, 70, ["e1"], CONFIG)
    later = detention_surge("Almaty", "Almaty", bucket, 100, ["e2", "e1"], CONFIG)
    other_city = detention_surge("Almaty", None, bucket, 100, ["e1"], CONFIG)
    assert first and later and other_city
    assert first.breach_id == later.breach_id != other_city.breach_id
    assert later.event_ids == ("e1", "e2")


def test_surge_buckets_are_fixed_utc_windows() -> None:
    assert surge_bucket_start(at("2021-01-10T12:59:59+06:00"), CONFIG) == at(
        "2021-01-10T06:00:00+00:00")
    assert surge_bucket_start(at("2021-01-10T13:00:00+06:00"), CONFIG) == at(
        "2021-01-10T07:00:00+00:00")
    quarter = RuleConfig(surge_window_minutes=15)
    assert surge_bucket_start(at("2021-01-10T07:44:00+00:00"), quarter) == at(
        "2021-01-10T07:30:00+00:00")


def test_same_bucket_in_any_offset_gives_the_same_id() -> None:
    in_utc = detention_surge("Almaty", "Almaty", at("2021-01-10T06:00:00+00:00"), 30, [], CONFIG)
    local = detention_surge("Almaty", "Almaty", at("2021-01-10T12:00:00+06:00"), 30, [], CONFIG)
    assert in_utc and local and in_utc.breach_id == local.breach_id
    assert in_utc.occurred_at.tzinfo == UTC


# --- determinism and withdrawal ---

def test_breach_ids_are_deterministic_per_rule_and_event() -> None:
    stuffing = event("ballot.stuffing_observed", "2021-01-10T12:00:00+05:00", {"ballots": 3})
    again = breaches(stuffing, Calendars.load(), CONFIG)
    assert breaches(stuffing, calendars(), CONFIG) == again
    other = event("ballot.stuffing_observed", "2021-01-10T12:00:00+05:00", {"ballots": 3},
                  key="other")
    assert breaches(other, calendars(), CONFIG)[0].breach_id != again[0].breach_id


def test_a_retraction_withdraws_only_breaches_it_alone_supported() -> None:
    assert withdrawn_by("e1", ("e1",))
    assert not withdrawn_by("e1", ("e1", "e2"))
    assert not withdrawn_by("e1", ("e2",))
    assert not withdrawn_by("e1", ())


def test_withdrawn_event_id_reads_rejections_and_retractions() -> None:
    target = "6f2c1a7e-3b9d-4c51-9a0e-21c7d4b8e660"
    for type_name, expected in [("report.retracted", target), ("report.rejected", target),
                                ("report.verified", None)]:
        report = event(type_name, "2021-01-10T12:00:00+06:00", {"event_id": target})
        assert withdrawn_event_id(report) == expected
