"""One name per region, per election (issue 31 item 1). Pure: no Kafka, no PostgreSQL."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pytest

from saylau.catalogue import catalogue
from saylau.domain.calendar import ELECTIONS_DIR, CalendarError, Calendars, load_election
from saylau.domain.regions import alias_index, canonical_region
from saylau.envelope import Envelope
from saylau.log.decode import Message, decode
from tests.factories import detention

CALENDARS = Calendars.load()
E2021, E2023 = CALENDARS.get("kz-2021-01-10"), CALENDARS.get("kz-2023-03-19")


def test_spellings_of_one_region_are_one_name() -> None:
    for name in ("Turkestan", "Turkistan", "turkistan region", "South Kazakhstan",
                 "Туркестанская область", "Түркістан облысы"):
        assert CALENDARS.region(E2021, name) == "Turkistan"


def test_the_capital_is_named_as_each_election_named_it() -> None:
    assert CALENDARS.region(E2021, "Astana") == CALENDARS.region(E2021, "Nur-Sultan") \
        == "Nur-Sultan"
    assert CALENDARS.region(E2023, "Nur-Sultan") == CALENDARS.region(E2023, "Astana") == "Astana"


def test_almaty_the_city_is_not_almaty_region() -> None:
    assert CALENDARS.region(E2023, "Almaty") == "Almaty"
    assert CALENDARS.region(E2023, "Алматы облысы") == "Almaty Region"


def test_an_unknown_or_not_yet_existing_region_is_kept_as_sent() -> None:
    assert CALENDARS.region(E2023, "Abay") == "Abai"
    assert CALENDARS.region(E2021, "Abai") == "Abai"  # a 2022 region: kept, not merged
    assert CALENDARS.region(E2021, " Region-1 ") == "Region-1"
    assert canonical_region({}, "Somewhere") == "Somewhere"


def test_an_election_file_may_not_give_one_spelling_to_two_regions(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="listed for both"):
        alias_index({"Almaty": ["Almaty Region"], "Almaty Region": []})
    source = (ELECTIONS_DIR / "kz-2021-01-10.yaml").read_text()
    clash = source.replace("  Akmola: [", '  Akmola: ["Pavlodar", ', 1)
    path = tmp_path / "kz-2021-01-10.yaml"
    path.write_text(clash)
    with pytest.raises(CalendarError, match="Pavlodar"):
        load_election(path)


def test_decoding_names_regions_and_the_record_keeps_what_was_sent() -> None:
    sent = detention("Turkestan", 2, region="Turkestan", election_id="kz-2021-01-10")
    decoded = decode(Message(0, 0, orjson.dumps(sent)), catalogue(), CALENDARS)
    assert decoded.event.region == "Turkistan" and decoded.event.city == "Turkestan"
    assert decoded.record["place"]["region"] == "Turkestan"
    plain = decode(Message(0, 0, orjson.dumps(sent)), catalogue())
    assert plain.event.region == "Turkestan"


def test_a_registry_payload_region_is_named_too() -> None:
    event = Envelope.model_validate({
        "event_id": "5b7b4f86-2a6a-4a36-9bd6-e1a3a7a1c001", "type": "station.registered",
        "schema_version": 1, "occurred_at": datetime(2023, 3, 1, 10).astimezone().isoformat(),
        "source": "registry", "station_id": "S-1", "election_id": "kz-2023-03-19",
        "payload": {"number": 1, "region": "Nur-Sultan"}})
    assert CALENDARS.named(event).payload["region"] == "Astana"



def test_a_region_a_reader_asks_for_is_named_as_the_election_of_that_moment() -> None:
    known = CALENDARS
    voting_2021, voting_2023 = datetime.fromisoformat("2021-01-10T09:00+06:00"), \
        datetime.fromisoformat("2023-03-19T09:00+06:00")
    assert known.region_asked("Turkestan", voting_2021) == "Turkistan"
    assert known.region_asked(" turkistan region ", voting_2023) == "Turkistan"
    assert known.region_asked("Astana", voting_2021) == "Nur-Sultan"
    assert known.region_asked("Nur-Sultan", voting_2023) == "Astana"
    assert known.region_asked("Abai", voting_2021) == "Abai"  # only 2023 lists it
    assert known.region_asked("Atlantis ", voting_2021) == "Atlantis"  # listed by none
