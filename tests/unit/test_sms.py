"""The coded-SMS grammar: what each code makes, and the error each mistake gets back."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from saylau.catalogue import catalogue
from saylau.channels import Context, Inbound, message_event
from saylau.channels.sms import KNOWN, PLACE_CODES, STATION_CODES, parse_sms
from saylau.domain.calendar import Calendars
from saylau.intake.validation import validate_item

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
RECEIVED = datetime(2021, 1, 10, 4, 0, tzinfo=UTC)
ELECTION = Calendars.load().get("kz-2021-01-10")
CONTEXT = Context(election=ELECTION, source="kibhr-sms")


def sms(text: str, message_id: str = "gw-1", context: Context = CONTEXT) -> tuple[
        list[dict], str]:
    made = parse_sms(Inbound("sms", "kibhr", message_id, "+77015550123", text, RECEIVED),
                     context)
    return made.events, made.reply


def test_access_denied_with_observers_and_local_time() -> None:
    (event,), reply = sms("PS660 OAD 4 @0600")
    assert event["type"] == "observer.access_denied" and event["station_id"] == "PS-660"
    assert event["payload"] == {"observers": 4}
    assert event["occurred_at"] == "2021-01-10T06:00:00+06:00"
    assert event["election_id"] == "kz-2021-01-10" and event["source"] == "kibhr-sms"
    assert reply.startswith("Recorded: PS-660 OAD 4 observers @06:00 (ref ")


def test_case_and_spaces_do_not_matter() -> None:
    assert sms("  ps 660   oad  4 ")[0] == sms("PS-660 OAD 4")[0]


def test_same_gateway_message_id_gives_the_same_ids() -> None:
    first, again, other = sms("PS660 BST"), sms("PS660 BST"), sms("PS660 BST", "gw-2")
    assert first[0][0]["event_id"] == again[0][0]["event_id"] != other[0][0]["event_id"]


def test_without_time_the_reception_time_is_used() -> None:
    (event,), _ = sms("PS660 BST 30")
    assert event["occurred_at"] == RECEIVED.isoformat()


def test_a_region_known_for_the_station_sets_zone_and_place() -> None:
    context = Context(election=ELECTION, stations={"PS-7": ("West Kazakhstan", "Oral")})
    (event,), _ = sms("PS7 BST @1030", context=context)
    assert event["occurred_at"] == "2021-01-10T10:30:00+05:00"
    assert event["place"] == {"region": "West Kazakhstan", "city": "Oral"}


@pytest.mark.parametrize(("text", "type_", "payload"), [
    ("PS1 OEX 2 FILM", "observer.expelled", {"observers": 2, "reason_kind": "filming"}),
    ("PS1 OEX", "observer.expelled", {"reason_kind": "other"}),
    ("PS1 UNP", "unauthorised_person.present", {"persons": 1}),
    ("PS1 SEAL MOB", "ballot_box.seal_broken", {"box": "mobile"}),
    ("PS1 CNT VOT", "count.procedure_violated", {"violation": "votes_not_announced"}),
    ("PS1 VTA 3 TEMP", "voter.turned_away", {"count": 3, "reason": "temperature"}),
    ("PS1 PVP JRN", "photo_video.prohibited", {"person_role": "journalist"}),
    ("PS1 VLI MULT", "voter_list.irregularity", {"kind": "supplementary_list_multiple_entries"}),
    ("PS1 JOB DEN", "journalist.obstructed", {"action": "access_denied"}),
    ("PS1 OPN # all present", "station.opened", {"note": "all present"}),
    ("PS1 CLS", "station.closed", {}),
    ("PS1 OAD 4 # told to wait", "observer.access_denied", {"observers": 4,
                                                             "reason": "told to wait"}),
])
def test_station_codes(text: str, type_: str, payload: dict) -> None:
    (event,), _ = sms(text)
    assert (event["type"], event["payload"]) == (type_, payload)


def test_detentions_and_releases_name_a_city() -> None:
    (det, rel), _ = sms("DET Almaty 30 @1210; REL nur sultan 3")
    assert det["type"] == "detention.reported" and det["payload"] == {"count": 30}
    assert det["place"] == {"region": "Almaty", "city": "Almaty"}
    assert rel["place"] == {"region": "Nur-Sultan", "city": "Nur-Sultan"}
    assert "station_id" not in det


def test_an_unlisted_city_is_written_with_its_region() -> None:
    (event,), _ = sms("DET chingirlau/west kazakhstan 3 @1100")
    assert event["place"] == {"region": "West Kazakhstan", "city": "Chingirlau"}
    assert event["occurred_at"] == "2021-01-10T11:00:00+05:00"


@pytest.mark.parametrize(("text", "error"), [
    ("PS660 XYZ 3", f"unknown code XYZ; known: {KNOWN}"),
    ("PS660 OAD", "PS660 OAD needs a number of observers"),
    ("PS660 VTA TEMP", "PS660 VTA needs a number of voters"),
    ("PS660 OAD 0", "PS660 OAD 0: observers must be 1 to 1000"),
    ("PS660 OAD 4 FOO", ("PS660 OAD: unexpected FOO; allowed: a number of observers, @HHMM, "
                        "# note")),
    ("PS660 OAD 4 @2500", "bad time @2500; write @HHMM, e.g. @0600"),
    ("PS660", f"PS-660: code missing; known: {KNOWN}"),
    ("HELLO", "start with a station (e.g. PS660) or DET/REL, not HELLO"),
    ("DET Almaty", "DET Almaty needs a number of people detained"),
    ("DET 5", "DET needs a city and a number, e.g. DET Almaty 30"),
    ("DET Atlantis 5", "unknown city Atlantis; write Atlantis/<region>"),
    ("REL Almaty 5 # all", "REL takes no note after #"),
    ("", "empty message; send e.g. PS660 OAD 4"),
    ("PS1 BST; PS1 OAD", "report 2: PS1 OAD needs a number of observers"),
])
def test_errors_say_exactly_what_is_wrong(text: str, error: str) -> None:
    events, reply = sms(text)
    assert events == [] and reply == f"Not recorded: {error}"


def test_help_answers_with_the_grammar() -> None:
    events, reply = sms("help")
    assert events == [] and "PS660 OAD 4" in reply


def test_every_code_makes_envelopes_the_ingest_accepts() -> None:
    texts = [f"PS1 {code} 2" if spec.count else f"PS1 {code}"
             for code, spec in STATION_CODES.items()]
    texts += [f"{code} Almaty 2" for code in PLACE_CODES]
    now = datetime.now(UTC)
    for text in texts:
        inbound = Inbound("sms", "kibhr", text, "+7701", text, RECEIVED)
        made = parse_sms(inbound, CONTEXT)
        for item in [*made.events, message_event(inbound, made.events, "sms")]:
            assert not isinstance(validate_item(item, catalogue(), now), list), (text, item)


def test_the_seed_scenario_in_sms_codes_counts_as_the_json_events() -> None:
    scenario = json.loads((SCENARIOS / "kz-2021-01-10.json").read_text())["expect"]
    stations: dict[str, Counter[str]] = defaultdict(Counter)
    cities: dict[str, Counter[str]] = defaultdict(Counter)
    lines = (SCENARIOS / "kz-2021-01-10.sms.txt").read_text().splitlines()
    for n, line in enumerate(lines):
        events, reply = sms(line, f"line-{n}")
        assert events, reply
        for e in events:
            if "station_id" in e:
                stations[e["station_id"]][e["type"]] += 1
            elif e["type"] in ("detention.reported", "detention.released"):
                cities[e["place"]["city"]][e["type"]] += e["payload"]["count"]
    incidents = {s: {t: n for t, n in c.items() if t != "station.opened"}
                 for s, c in stations.items()}
    assert incidents == scenario["stations"]
    assert {city: (c["detention.reported"], c["detention.released"])
            for city, c in cities.items()} == {
        city: (d["detained_total"], d["released_total"])
        for city, d in scenario["detentions"].items()}
