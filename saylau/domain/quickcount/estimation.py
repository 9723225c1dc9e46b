"""Stratified ratio estimators of turnout and vote shares, with linearised variance.

Stratum ``h`` has ``N_h`` stations and ``X_h`` registered voters in the frame (both recorded
in the sample); ``n_h`` of its sampled stations have reported, station ``i`` with ``y_hi``
(voters, or a party's votes) over ``x_hi`` (registered voters, or valid votes).

Turnout: the **separate** ratio estimator, since every stratum's registered voters ``X_h``
are known (Cochran 1977, *Sampling Techniques*, 3rd ed., §6.10; Lohr 2010, *Sampling: Design
and Analysis*, 2nd ed., §4.5):

    R̂_h = Σ_i y_hi / Σ_i x_hi,     R̂ = Σ_h W_h R̂_h,     W_h = X_h / Σ_h X_h
    v(R̂) = Σ_h W_h² (1 − n_h/N_h) s²_eh / (n_h x̄_h²),   e_hi = y_hi − R̂_h x_hi

Shares: the **combined** ratio estimator, since a stratum's valid votes are not known in
advance (Cochran 1977, §6.11; Lohr 2010, §4.5 and §9.1):

    R̂ = Σ_h (N_h/n_h) Σ_i y_hi  /  Σ_h (N_h/n_h) Σ_i x_hi
    v(R̂) = 1/X̂² · Σ_h N_h² (1 − n_h/N_h) s²_eh / n_h,   e_hi = y_hi − R̂ x_hi

``s²_eh`` is the sample variance of the residuals in stratum h: both are the Taylor-linearised
(design-based) variance with finite population correction. The interval is
``R̂ ± t_{(1+c)/2, df} √v`` with Student's t on the design degrees of freedom
``df = n − H`` (reporting stations minus reporting strata), clipped to 0–100 %. A region's
own estimate is the same formula on its stratum alone (there the two estimators coincide).

Non-response: a sampled station without a report is left out and its stratum's weight is
spread over the stations that did report (missing at random within the region). A stratum
with one report has no within-stratum variance; its unit is centred on the national ratio
instead (``(y − R̂ x)²`` for ``s²``), which counts the region's distance from the national
figure as error (conservative). A stratum with no report is absent: the estimate then
describes the reporting regions only (their ``W_h`` renormalised), and ``missing_regions``
names the others.

Plain Python (``math.fsum``, ``statistics.NormalDist``, the t quantile below): the sums are a
few hundred terms, and samplics would bring numpy, scipy, pandas, polars and statsmodels.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist
from typing import Any

from saylau.domain.calendar import STATIONS_CLOSE, final_count_hour
from saylau.domain.quickcount.sampling import Sample

Units = Mapping[str, Sequence[tuple[float, float]]]
"""Per stratum, the (y, x) of each reporting station."""


@dataclass(frozen=True)
class Estimate:
    """A percentage with its interval; ``std_error`` in percentage points, ``df`` the design
    degrees of freedom of its t quantile."""

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    std_error: float
    reported: int
    df: int

    def at(self, confidence: float) -> Estimate:
        """The same estimate with its interval at another confidence level."""
        return _interval(self.estimate / 100, self.std_error / 100, confidence, self.reported,
                         self.df)


def _interval(ratio: float, std_error: float, confidence: float, reported: int,
              df: int) -> Estimate:
    half = t_value(confidence, df) * std_error
    return Estimate(100 * ratio, max(0.0, 100 * (ratio - half)), min(100.0, 100 * (ratio + half)),
                    confidence, 100 * std_error, reported, df)


@dataclass(frozen=True)
class StationTurnout:
    """Voters at a sampled station (latest count, or the protocol's ballots cast); ``final``
    unless it is a count of an hour before the stations closed."""

    station_id: str
    registered_voters: int
    voters: int
    final: bool = True


def station_turnout(station_id: str, registered_voters: int | None, hourly: Mapping[int, int],
                    ballots_cast: int | None = None,
                    final_hour: int = final_count_hour(STATIONS_CLOSE)) -> StationTurnout | None:
    """A sampled station's figure: the protocol's ballots cast once it has arrived, else the
    count of the latest hour, final from ``final_hour`` on (the election's closing hour);
    None without registered voters or without any figure."""
    if ballots_cast is not None:
        voters, final = ballots_cast, True
    elif hourly:
        voters, final = hourly[max(hourly)], max(hourly) >= final_hour
    else:
        return None
    if not registered_voters:
        return None
    return StationTurnout(station_id, registered_voters, voters, final)


@dataclass(frozen=True)
class StationProtocol:
    """Votes per party or candidate in a sampled station's protocol."""

    station_id: str
    votes: Mapping[str, int]


MAX_CONFIDENCE = 0.9999
"""The highest confidence level an interval is computed at. Closer to 1, ``0.5 + c / 2``
rounds to 1.0 in floating point (from 1 − 2⁻⁵³ on) and its quantile is infinite; long before
that, the interval's tails say more about the normal approximation than about the sample."""


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (0.95 → 1.96)."""
    if not 0 < confidence <= MAX_CONFIDENCE:
        raise ValueError(f"confidence must be above 0 and at most {MAX_CONFIDENCE}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


EXACT_T_DF = 200
"""Up to this many degrees of freedom the t quantile inverts the exact distribution."""


def t_value(confidence: float, df: int) -> float:
    """The two-sided Student's t quantile for ``confidence`` on ``df`` degrees of freedom
    (0.95 and 3 → 3.1824). Up to ``EXACT_T_DF`` it bisects the exact distribution function for
    integer df (Abramowitz & Stegun 1964, 26.7.3–4); beyond, the Cornish–Fisher expansion in
    1/df (A&S 26.7.5), whose error there is below 1e-10."""
    z = z_value(confidence)
    df = max(1, df)
    if df > EXACT_T_DF:
        return _cornish_fisher(z, df)
    low, high = 0.0, max(2 * z, 1.0)
    while _central(high, df) < confidence:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if _central(mid, df) < confidence else (low, mid)
        if high - low < 1e-12:
            break
    return (low + high) / 2


def _central(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t on integer ``df`` (A&S 26.7.3, 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    for k in range(1, df // 2):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return math.sin(theta) * total


def _cornish_fisher(z: float, df: int) -> float:
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4


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
    reported = sum(map(len, strata.values()))
    return _interval(ratio, math.sqrt(variance), confidence, reported, reported - len(strata))


def separate_ratio_estimate(units: Units, frame: Mapping[str, int], totals: Mapping[str, int],
                            confidence: float) -> Estimate | None:
    """The separate ratio estimate over ``units``: each stratum's ratio weighted by its known
    denominator total ``totals[h]`` (X_h), renormalised over the strata that reported.

    A stratum with one report is centred on the national estimate. None when nothing has
    been reported or the denominators sum to zero.
    """
    strata = {h: rows for h, rows in units.items() if rows and math.fsum(x for _, x in rows) > 0}
    weight = math.fsum(totals[h] for h in strata)
    if not strata or weight <= 0:
        return None
    ratios = {h: math.fsum(y for y, _ in r) / math.fsum(x for _, x in r)
              for h, r in strata.items()}
    ratio = math.fsum(totals[h] / weight * ratios[h] for h in strata)
    variance = math.fsum((totals[h] / weight) ** 2 * _separate_term(rows, frame[h], ratios[h],
                                                                    ratio)
                         for h, rows in strata.items())
    reported = sum(map(len, strata.values()))
    return _interval(ratio, math.sqrt(variance), confidence, reported, reported - len(strata))


def _separate_term(rows: Sequence[tuple[float, float]], frame: int, own: float,
                   national: float) -> float:
    """(1 − f_h) s²_e / (n_h x̄_h²): the variance of the stratum's ratio R̂_h."""
    n = len(rows)
    fpc = max(0.0, 1 - n / frame)
    x_mean = math.fsum(x for _, x in rows) / n
    if n == 1:
        y, x = rows[0]
        return fpc * (y - national * x) ** 2 / x_mean ** 2
    residuals = [y - own * x for y, x in rows]
    mean = math.fsum(residuals) / n
    s2 = math.fsum((e - mean) ** 2 for e in residuals) / (n - 1)
    return fpc * s2 / (n * x_mean ** 2)


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
    final: int = 0
    """Reporting stations whose figure is final (``StationTurnout.final``)."""


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
    final: int = 0
    """Sampled stations whose turnout figure is final (the others: an earlier hour's count)."""

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
    totals = {s.region: s.registered_voters for s in sample.strata}
    counts = {t.station_id: t for t in turnout if t.station_id in region_of}
    papers = {p.station_id: p for p in protocols if p.station_id in region_of}
    t_units = _by_region(region_of, ((s, (c.voters, c.registered_voters)) for s, c in counts.items()))
    national = separate_ratio_estimate(t_units, frame, totals, confidence)
    candidates = sorted({name for p in papers.values() for name in p.votes})
    s_units = {c: _share_units(region_of, papers, c) for c in candidates}
    shares = _shares(s_units, frame, confidence, {})
    finals = Counter(region_of[s] for s, c in counts.items() if c.final)
    regions = tuple(replace(_region(stratum.region, stratum.sampled, frame, t_units, s_units,
                                    national, shares, confidence), final=finals[stratum.region])
                    for stratum in sample.strata)
    missing = tuple(s.region for s in sample.strata if not t_units.get(s.region))
    return QuickCount(sample.sample_id, sample.election_id, confidence, len(region_of),
                      len(counts), len(papers), national, shares, regions, missing,
                      sum(c.final for c in counts.values()))


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
