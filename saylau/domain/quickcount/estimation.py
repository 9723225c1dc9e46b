"""The stratified ratio estimator of turnout and vote shares, with linearised variance.

For a ratio ``R = Y / X`` (turnout: voters over registered voters; a share: a party's votes
over valid votes) from stratum ``h`` with ``N_h`` stations in the frame and ``n_h`` sampled
stations that reported, each reporting station weighing ``N_h / n_h``:

    R̂ = Σ_h (N_h/n_h) Σ_i y_hi  /  Σ_h (N_h/n_h) Σ_i x_hi            (combined ratio)
    v(R̂) = 1/X̂² · Σ_h N_h² (1 − n_h/N_h) s²_eh / n_h,   e_hi = y_hi − R̂ x_hi

with ``s²_eh`` the sample variance of the residuals in stratum h: the Taylor-linearised
(design-based) variance with finite population correction (Cochran 1977, *Sampling
Techniques*, 3rd ed., §6.11; Lohr 2010, *Sampling: Design and Analysis*, 2nd ed.,
§4.1 and §9.1). The interval is ``R̂ ± z_{(1+c)/2} √v`` with the normal quantile, clipped to
0–100 %. A region's own estimate is the same formula on its stratum alone.

Non-response: a sampled station without a report is left out and its stratum's weight is
spread over the stations that did report (missing at random within the region). A stratum
with one report has no within-stratum variance; its unit is centred on the national ratio
instead, ``N_h² (1 − 1/N_h) (y − R̂ x)²``, which counts the region's distance from the
national figure as error (conservative). A stratum with no report is absent: the estimate
then describes the reporting regions only, and ``missing_regions`` names the others.

Plain Python (``math.fsum``, ``statistics.NormalDist``): the sums are a few hundred terms, and
samplics would bring numpy, scipy, pandas, polars and statsmodels for them.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

from saylau.domain.quickcount.sampling import Sample

Units = Mapping[str, Sequence[tuple[float, float]]]
"""Per stratum, the (y, x) of each reporting station."""


@dataclass(frozen=True)
class Estimate:
    """A percentage with its interval; ``std_error`` in percentage points."""

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    std_error: float
    reported: int

    def at(self, confidence: float) -> Estimate:
        """The same estimate with its interval at another confidence level."""
        return _interval(self.estimate / 100, self.std_error / 100, confidence, self.reported)


def _interval(ratio: float, std_error: float, confidence: float, reported: int) -> Estimate:
    half = z_value(confidence) * std_error
    return Estimate(100 * ratio, max(0.0, 100 * (ratio - half)), min(100.0, 100 * (ratio + half)),
                    confidence, 100 * std_error, reported)


@dataclass(frozen=True)
class StationTurnout:
    """Voters at a sampled station (latest count, or the protocol's ballots cast)."""

    station_id: str
    registered_voters: int
    voters: int


def station_turnout(station_id: str, registered_voters: int | None, hourly: Mapping[int, int],
                    ballots_cast: int | None = None) -> StationTurnout | None:
    """A sampled station's figure: the protocol's ballots cast once it has arrived, else the
    count of the latest hour; None without registered voters or without any figure."""
    voters = ballots_cast if ballots_cast is not None else hourly[max(hourly)] if hourly else None
    if not registered_voters or voters is None:
        return None
    return StationTurnout(station_id, registered_voters, voters)


@dataclass(frozen=True)
class StationProtocol:
    """Votes per party or candidate in a sampled station's protocol."""

    station_id: str
    votes: Mapping[str, int]


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (0.95 → 1.96)."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def ratio_estimate(units: Units, frame: Mapping[str, int], confidence: float,
                   lonely_ratio: float | None = None) -> Estimate | None:
    """The combined ratio estimate over ``units`` (strata absent from it are skipped).

    ``frame`` gives N_h; ``lonely_ratio`` centres strata with one report (default: R̂).
    None when nothing has been reported or the denominators sum to zero.
    """
    strata = {h: rows for h, rows in units.items() if rows}
    x_total = math.fsum(frame[h] / len(r) * x for h, r in strata.items() for _, x in r)
    if x_total <= 0:
        return None
    ratio = math.fsum(frame[h] / len(r) * y for h, r in strata.items() for y, _ in r) / x_total
    centre = ratio if lonely_ratio is None else lonely_ratio
    variance = math.fsum(_stratum_term(rows, frame[h], ratio, centre)
                         for h, rows in strata.items()) / x_total ** 2
    return _interval(ratio, math.sqrt(variance), confidence, sum(map(len, strata.values())))


def _stratum_term(rows: Sequence[tuple[float, float]], frame: int, ratio: float,
                  centre: float) -> float:
    """N_h² (1 − f_h) s²_e / n_h, or the lonely-unit substitute."""
    n = len(rows)
    fpc = max(0.0, 1 - n / frame)
    if n == 1:
        y, x = rows[0]
        return frame ** 2 * fpc * (y - centre * x) ** 2
    residuals = [y - ratio * x for y, x in rows]
    mean = math.fsum(residuals) / n
    s2 = math.fsum((e - mean) ** 2 for e in residuals) / (n - 1)
    return frame ** 2 * fpc * s2 / n


@dataclass(frozen=True)
class RegionCount:
    """A region's own estimates (its stratum alone)."""

    region: str
    sampled: int
    reported: int
    protocols: int
    turnout: Estimate | None
    shares: dict[str, Estimate] = field(default_factory=dict)


@dataclass(frozen=True)
class QuickCount:
    """Everything the sample says so far, at one confidence level."""

    sample_id: str
    election_id: str
    confidence: float
    sampled: int
    reported: int
    """Sampled stations with a turnout figure."""
    protocols: int
    """Sampled stations with a protocol."""
    turnout: Estimate | None
    shares: dict[str, Estimate]
    regions: tuple[RegionCount, ...]
    missing_regions: tuple[str, ...]
    """Strata without any turnout report: the national estimate does not cover them."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quick_count(sample: Sample, turnout: Iterable[StationTurnout],
                protocols: Iterable[StationProtocol], confidence: float = 0.95) -> QuickCount:
    """National and per-region estimates from the sampled stations' reports.

    Reports from stations outside the sample are ignored; one report per station (the
    caller passes the latest).
    """
    region_of = sample.region_of()
    frame = {s.region: s.frame for s in sample.strata}
    counts = {t.station_id: t for t in turnout if t.station_id in region_of}
    papers = {p.station_id: p for p in protocols if p.station_id in region_of}
    t_units = _by_region(region_of, ((s, (c.voters, c.registered_voters)) for s, c in counts.items()))
    national = ratio_estimate(t_units, frame, confidence)
    candidates = sorted({name for p in papers.values() for name in p.votes})
    s_units = {c: _share_units(region_of, papers, c) for c in candidates}
    shares = _shares(s_units, frame, confidence, {})
    regions = tuple(_region(stratum.region, stratum.sampled, frame, t_units, s_units,
                            national, shares, confidence) for stratum in sample.strata)
    missing = tuple(s.region for s in sample.strata if not t_units.get(s.region))
    return QuickCount(sample.sample_id, sample.election_id, confidence, len(region_of),
                      len(counts), len(papers), national, shares, regions, missing)


def _by_region(region_of: Mapping[str, str],
               rows: Iterable[tuple[str, tuple[float, float]]]) -> dict[str, list[tuple[float, float]]]:
    units: dict[str, list[tuple[float, float]]] = {}
    for station_id, row in sorted(rows):
        units.setdefault(region_of[station_id], []).append(row)
    return units


def _share_units(region_of: Mapping[str, str], papers: Mapping[str, StationProtocol],
                 candidate: str) -> dict[str, list[tuple[float, float]]]:
    rows = ((s, (p.votes.get(candidate, 0), sum(p.votes.values()))) for s, p in papers.items())
    return _by_region(region_of, rows)


def _shares(units: Mapping[str, Units], frame: Mapping[str, int], confidence: float,
            centres: Mapping[str, Estimate]) -> dict[str, Estimate]:
    found = {c: ratio_estimate(u, frame, confidence, _centre(centres.get(c)))
             for c, u in units.items()}
    return {c: e for c, e in found.items() if e is not None}


def _centre(estimate: Estimate | None) -> float | None:
    return None if estimate is None else estimate.estimate / 100


def _region(region: str, sampled: int, frame: Mapping[str, int], t_units: Units,
            s_units: Mapping[str, Units], national: Estimate | None,
            shares: Mapping[str, Estimate], confidence: float) -> RegionCount:
    own = {region: t_units.get(region, [])}
    turnout = ratio_estimate(own, frame, confidence, _centre(national))
    region_shares = _shares({c: {region: u.get(region, [])} for c, u in s_units.items()},
                            frame, confidence, shares)
    protocols = max((len(u.get(region, [])) for u in s_units.values()), default=0)
    return RegionCount(region, sampled, len(own[region]), protocols, turnout, region_shares)
