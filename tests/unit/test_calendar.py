"""Election calendars: the repo's files load, bad files are named, events find their election."""
from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
import yaml

from saylau.domain.calendar import ELECTIONS_DIR, CalendarError, Calendars

FILES = sorted(ELECTIONS_DIR.glob("*.yaml"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def copy_with(tmp_path: Path, source: str, **changes: object) -> Path:
    data = yaml.safe_load((ELECTIONS_DIR / f"{source}.yaml").read_text())
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    target = tmp_path / f"{data['id']}.yaml"
    target.write_text(yaml.safe_dump(data))
    return target


def test_both_seed_elections_load() -> None:
    calendars = Calendars.load()
    assert sorted(calendars.elections) == ["kz-2021-01-10", "kz-2023-03-19"]
    assert [path.stem for path in FILES] == sorted(calendars.elections)


def test_2023_calendar_matches_the_prosecutor_generals_speech() -> None:
    e = Calendars.load().get("kz-2023-03-19")
    assert e is not None
    assert e.campaign_start == at("2023-02-18T18:00")
    assert e.campaign_end == e.silence_start == at("2023-03-18T00:00")
    assert e.voting_day == date(2023, 3, 19)
    assert e.poll_blackout_start == at("2023-03-14T00:00")
    assert e.deregistration_closed_from == at("2023-03-17T00:00")
    assert (e.voting_opens, e.stations_close) == (at("2023-03-19T07:00"), time(20, 0))


def test_2021_calendar() -> None:
    e = Calendars.load().get("kz-2021-01-10")
    assert e is not None
    assert e.silence_start == at("2021-01-09T00:00")
    assert e.poll_blackout_start == at("2021-01-05T00:00")
    assert e.deregistration_closed_from == at("2021-01-08T00:00")
    assert e.observers_admitted_from == at("2021-01-10T06:00")


def test_regions_on_utc_plus_5_use_their_own_zone() -> None:
    e = Calendars.load().get("kz-2021-01-10")
    assert e is not None
    moment = at("2021-01-10T01:00:00+00:00")
    assert e.local(moment, "North Kazakhstan") == at("2021-01-10T07:00")
    assert e.local(moment, "West Kazakhstan") == at("2021-01-10T06:00")
    assert e.local(moment, "west kazakhstan") == at("2021-01-10T06:00")
    assert e.local(moment) == at("2021-01-10T07:00")


@pytest.mark.parametrize(("moment", "expected"), [
    ("2021-01-10T07:00:00+06:00", "kz-2021-01-10"),
    ("2020-10-21T00:00:00+06:00", "kz-2021-01-10"),
    ("2020-10-20T23:59:00+06:00", None),
    ("2022-06-01T12:00:00+06:00", None),
    ("2023-01-28T12:00:00+06:00", "kz-2023-03-19"),
    ("2023-03-19T20:00:00+05:00", "kz-2023-03-19"),
    ("2023-04-03T00:00:00+06:00", None),
])
def test_for_event_finds_the_election_by_time(moment: str, expected: str | None) -> None:
    found = Calendars.load().for_event(None, at(moment))
    assert (found.id if found else None) == expected


def test_an_explicit_election_id_wins_over_the_time() -> None:
    calendars = Calendars.load()
    found = calendars.for_event("kz-2023-03-19", at("2021-01-10T07:00:00+06:00"))
    assert found is not None and found.id == "kz-2023-03-19"
    assert calendars.for_event("kz-1999-01-10", at("2021-01-10T07:00:00+06:00")) is None


def test_an_event_belongs_to_the_election_it_names_else_to_its_calendars() -> None:
    calendars = Calendars.load()
    assert calendars.election_of("runoff-1", at("2021-01-10T07:00:00+06:00")) == "runoff-1"
    assert calendars.election_of(None, at("2021-01-10T07:00:00+06:00")) == "kz-2021-01-10"
    assert calendars.election_of(None, at("2022-06-01T12:00:00+06:00")) is None


def test_the_final_count_is_the_one_at_the_hour_the_stations_close(tmp_path: Path) -> None:
    calendars = Calendars.load()
    assert calendars.final_count_hour("kz-2021-01-10") == 20
    assert calendars.final_count_hour("no-calendar") == 20  # the law's 20:00
    late = Calendars.load(copy_with(tmp_path, "kz-2023-03-19", stations_close="20:30").parent)
    assert late.final_count_hour("kz-2023-03-19") == 21  # the first count after closing


def test_a_new_election_is_just_a_file(tmp_path: Path) -> None:
    for path in FILES:
        (tmp_path / path.name).write_text(path.read_text())
    copy_with(tmp_path, "kz-2023-03-19", id="kz-2024-03-17", announced="2024-01-10T00:00",
              campaign_start="2024-02-17T18:00", campaign_end="2024-03-16T00:00",
              silence_start="2024-03-16T00:00", silence_end="2024-03-18T00:00",
              poll_blackout_start="2024-03-12T00:00", poll_blackout_end="2024-03-18T00:00",
              deregistration_closed_from="2024-03-15T00:00", voting_day="2024-03-17",
              observation_ends="2024-03-18T00:00", window_end="2024-04-01T00:00")
    calendars = Calendars.load(tmp_path)
    found = calendars.for_event(None, at("2024-03-17T09:00:00+06:00"))
    assert len(calendars.elections) == 3 and found is not None and found.id == "kz-2024-03-17"


@pytest.mark.parametrize(("changes", "field"), [
    ({"campaign_start": "18 February"}, "campaign_start"),
    ({"timezone": "Asia/Nowhere"}, "timezone"),
    ({"timezones": {"Aktobe": "Mars/Olympus"}}, "timezones.Aktobe"),
    ({"poll_blackout_start": None}, "poll_blackout_start"),
    ({"campaign_end": "2023-02-01T00:00"}, "campaign_end"),
    ({"campaign_start": "2023-02-18T18:00:00+06:00"}, "campaign_start"),
    ({"voting_day": "2023-03-25"}, "voting_day"),
    ({"stations_open": "05:00"}, "stations_open"),
    ({"silence_day": "2023-03-18"}, "silence_day"),
])
def test_a_malformed_file_is_named_with_its_field(tmp_path: Path, changes: dict[str, object],
                                                  field: str) -> None:
    copy_with(tmp_path, "kz-2023-03-19", **changes)
    with pytest.raises(CalendarError) as caught:
        Calendars.load(tmp_path)
    assert "kz-2023-03-19.yaml" in str(caught.value) and field in str(caught.value)


def test_the_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = copy_with(tmp_path, "kz-2023-03-19")
    path.rename(tmp_path / "kz-2023-03-26.yaml")
    with pytest.raises(CalendarError, match=r"kz-2023-03-26\.yaml: id"):
        Calendars.load(tmp_path)


def test_a_file_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "kz-broken.yaml").write_text("- just\n- a list\n")
    with pytest.raises(CalendarError, match=r"kz-broken\.yaml"):
        Calendars.load(tmp_path)


def test_an_empty_directory_has_no_elections(tmp_path: Path) -> None:
    assert Calendars.load(tmp_path).for_event(None, at("2021-01-10T07:00:00+06:00")) is None
