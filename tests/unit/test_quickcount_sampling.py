"""Drawing and verifying the quick-count sample: allocation, reproducibility, hand-picking."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from saylau.catalogue import Catalogue
from saylau.domain.quickcount import (
    METHOD,
    FrameStation,
    Sample,
    allocate,
    current_draw,
    draw_sample,
    frame_hash,
    replacement_refused,
    shuffle_step,
    verify_sample,
)

DRAWN_AT = datetime(2021, 1, 9, 18, 0, tzinfo=UTC)
REGIONS = {"Almaty": (400, 1500), "Astana": (150, 2200), "North Kazakhstan": (60, 900),
           "Ulytau": (3, 700)}


def frame() -> list[FrameStation]:
    return [FrameStation(f"{region[:3].upper()}-{i:03d}", region, voters + i % 7)
            for region, (count, voters) in REGIONS.items() for i in range(count)]


def draw(seed: int = 7, size: int = 100, stations: list[FrameStation] | None = None) -> Sample:
    return draw_sample(stations or frame(), size, seed, election_id="majilis-2021",
                       drawn_at=DRAWN_AT)


def test_allocation_is_proportional_to_registered_voters_by_largest_remainder() -> None:
    # quotas 10 × (5, 3, 2)/10 → 5, 3, 2; 7 × … → 3.5, 2.1, 1.4 → 4, 2, 1
    strata = {"a": (100, 500), "b": (100, 300), "c": (100, 200)}
    assert allocate(strata, 10) == {"a": 5, "b": 3, "c": 2}
    assert allocate(strata, 7) == {"a": 4, "b": 2, "c": 1}


def test_allocation_gives_every_region_a_station_and_never_more_than_it_has() -> None:
    strata = {"big": (1000, 99_000), "tiny": (5, 100), "small": (2, 900)}
    sizes = allocate(strata, 50)
    assert sizes["tiny"] == 1 and sizes["small"] == 1 and sum(sizes.values()) == 50
    assert allocate({"a": (3, 900), "b": (10, 100)}, 8) == {"a": 3, "b": 5}
    assert allocate({"a": (3, 900), "b": (10, 100)}, 50) == {"a": 3, "b": 10}


def test_a_size_below_the_number_of_regions_goes_to_the_largest() -> None:
    assert allocate({"a": (9, 600), "b": (9, 300), "c": (9, 100)}, 2) == {"a": 1, "b": 1, "c": 0}


def test_the_sample_matches_the_allocation_and_the_frame() -> None:
    sample = draw()
    strata = {s.region: s for s in sample.strata}
    expected = allocate({r: (c, sum(s.registered_voters for s in frame() if s.region == r))
                         for r, (c, _) in REGIONS.items()}, 100)
    assert {r: s.sampled for r, s in strata.items()} == expected
    assert {r: s.frame for r, s in strata.items()} == {r: c for r, (c, _) in REGIONS.items()}
    region_of = {s.station_id: s.region for s in frame()}
    assert all(region_of[s] == s_.region for s_ in sample.strata for s in s_.station_ids)
    assert len(set(sample.station_ids)) == 100 and sample.method == METHOD


def test_the_same_seed_and_frame_draw_the_same_sample_in_any_order() -> None:
    assert draw(seed=11) == draw_sample(list(reversed(frame())), 100, 11,
                                        election_id="majilis-2021", drawn_at=DRAWN_AT)
    assert draw(seed=11).station_ids != draw(seed=12).station_ids


def test_the_draw_is_pinned_to_its_published_algorithm() -> None:
    """SHA-256 partial Fisher–Yates: recomputed here by hand for the smallest region."""
    ids = sorted(s.station_id for s in frame() if s.region == "Ulytau")
    digest = hashlib.sha256(b"7:Ulytau:0").digest()
    assert shuffle_step(7, "Ulytau", 0, 3) == int.from_bytes(digest, "big") % 3
    ulytau = next(s for s in draw(seed=7).strata if s.region == "Ulytau")
    assert ulytau.station_ids == (ids[shuffle_step(7, "Ulytau", 0, 3)],)


def test_within_a_region_every_station_is_equally_likely() -> None:
    hits: dict[str, int] = {}
    stations = [s for s in frame() if s.region == "North Kazakhstan"]
    for seed in range(600):
        for station_id in draw_sample(stations, 6, seed, election_id="x",
                                      drawn_at=DRAWN_AT).station_ids:
            hits[station_id] = hits.get(station_id, 0) + 1
    # 600 × 6 / 60 = 60 expected per station; binomial sd ≈ 7.4
    assert len(hits) == 60 and 30 < min(hits.values()) and max(hits.values()) < 90


def test_stations_without_voters_are_not_in_the_frame() -> None:
    empty = FrameStation("EMPTY-1", "Almaty", 0)
    assert frame_hash([*frame(), empty]) == frame_hash(frame())
    with pytest.raises(ValueError, match="registered voters"):
        draw(stations=[empty])


def test_verify_accepts_the_sample_as_drawn_and_after_a_round_trip_through_the_log() -> None:
    sample = draw()
    assert verify_sample(frame(), sample).ok
    assert Catalogue().validate("sample.drawn", 1, sample.payload()) == []
    assert Sample.from_payload(sample.payload()) == sample


def test_verify_detects_a_hand_picked_station() -> None:
    sample = draw()
    almaty = next(s for s in sample.strata if s.region == "Almaty")
    outsider = next(s.station_id for s in frame()
                    if s.region == "Almaty" and s.station_id not in almaty.station_ids)
    picked = (*almaty.station_ids[1:], outsider)
    forged = replace(sample, strata=tuple(replace(s, station_ids=picked) if s is almaty else s
                                          for s in sample.strata))
    check = verify_sample(frame(), forged)
    assert not check.ok and check.frame_hash_matches and check.allocation_matches
    assert check.extra == (outsider,) and check.missing == (almaty.station_ids[0],)


def test_verify_detects_a_changed_frame_or_allocation() -> None:
    sample = draw()
    moved = [replace(s, region="Astana") if s.station_id == "ALM-000" else s for s in frame()]
    check = verify_sample(moved, sample)
    assert not check.ok and not check.frame_hash_matches
    tweaked = replace(sample, strata=tuple(replace(s, frame=s.frame + 1) for s in sample.strata))
    assert not verify_sample(frame(), tweaked).allocation_matches


def test_a_bad_size_seed_or_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        draw(size=0)
    with pytest.raises(ValueError, match="seed"):
        draw(seed=-1)
    with pytest.raises(ValueError, match="drawn_at"):
        draw_sample(frame(), 10, 1, election_id="x", drawn_at=datetime(2021, 1, 9))


def test_a_sample_that_would_replace_the_current_one_must_name_it() -> None:
    assert replacement_refused("majilis-2021", None, None) is None  # the first draw
    assert replacement_refused("majilis-2021", "s-1", "s-1") is None  # says what it replaces
    silent = replacement_refused("majilis-2021", None, "s-1")
    assert silent and "s-1" in silent and "replaces" in silent
    stale = replacement_refused("majilis-2021", "s-0", "s-1")  # someone drew meanwhile
    assert stale and "s-1" in stale and "s-0" in stale
    nothing = replacement_refused("majilis-2021", "s-1", None)
    assert nothing and "no sample" in nothing


def test_the_schema_documents_what_a_sample_replaces() -> None:
    payload = {**draw().payload(), "replaces": "s-1"}
    assert Catalogue().validate("sample.drawn", 1, payload) == []
    assert Catalogue().validate("sample.drawn", 1, {**payload, "replaces": "a b"})


def test_the_current_sample_is_the_latest_no_other_replaces() -> None:
    assert current_draw([("a", None)]) == 0
    assert current_draw([("a", None), ("b", None)]) == 1  # a log from before replaces: latest
    assert current_draw([("b", "a"), ("a", None)]) == 0  # b replaces a, though dated earlier
    assert current_draw([("a", None), ("b", "a"), ("c", "b")]) == 2
    assert current_draw([("a", "b"), ("b", "a")]) == 1  # a cycle ingest never accepts
