"""When an official figure is implausible given the sample: the quick-count discrepancy rule.

Once at least 80 % of the sampled stations (of the whole sample, or of the region for a
regional figure) have reported their final figures, an official turnout or share outside the
99 % interval of the quick count of those final figures is a discrepancy. Below that share
the interval rests on too few stations and on the assumption that the late ones resemble the
early ones, so nothing is raised. A final figure is a protocol, or a turnout count at the hour
the stations close: an 18:00 count is not the day's turnout, and counting it would put a right
official figure outside the interval. A national figure is judged only once every stratum
has reports: until then the estimate is re-weighted over the regions that reported, an
estimate of those regions, not of the nation.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from saylau.domain.quickcount.estimation import (
    Estimate,
    QuickCount,
    StationProtocol,
    StationTurnout,
    quick_count,
)
from saylau.domain.quickcount.sampling import Sample

RULE_ID = "quickcount.discrepancy"
DISCREPANCY_CONFIDENCE = 0.99
MIN_REPORTED = 0.8


@dataclass(frozen=True)
class OfficialFigure:
    """An ``official.results_announced`` payload: national or one region's figures."""

    level: Literal["national", "region"]
    turnout_percent: float
    source: str
    region: str | None = None
    shares: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> OfficialFigure:
        return cls(payload["level"], payload["turnout_percent"], payload["source"],
                   payload.get("region"), dict(payload.get("shares", {})))


@dataclass(frozen=True)
class Discrepancy:
    """An official figure outside the quick count's interval: the alert's payload."""

    sample_id: str
    election_id: str
    level: Literal["national", "region"]
    region: str | None
    measure: Literal["turnout", "share"]
    candidate: str | None
    official: float
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    reported: int
    sampled: int
    source: str

    @property
    def key(self) -> str:
        """What the discrepancy is about, stable across re-evaluations (for the alert id)."""
        return "|".join([self.sample_id, self.level, self.region or "", self.measure,
                         self.candidate or ""])

    def payload(self) -> dict[str, Any]:
        return {"rule_id": RULE_ID, **asdict(self)}


@dataclass(frozen=True)
class Readiness:
    """Whether the rule judges one measure of a figure yet: the sampled stations that reported
    (final turnout figures, or protocols for shares) and, for a national figure, the strata
    without any report, which its estimate does not cover (their weight is spread over the
    strata that reported, so it is not an estimate of the nation's figure)."""

    reported: int
    sampled: int
    strata_without_reports: tuple[str, ...] = ()
    min_reported: float = MIN_REPORTED

    @property
    def ready(self) -> bool:
        return (self.reported >= self.min_reported * self.sampled
                and not self.strata_without_reports)

    def as_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "reported": self.reported, "sampled": self.sampled,
                "strata_without_reports": list(self.strata_without_reports)}


def national_readiness(count: QuickCount, measure: Literal["turnout", "share"],
                       min_reported: float = MIN_REPORTED) -> Readiness:
    """How far the national ``measure`` of ``count`` (a ``final_count``) is from being
    judged: every stratum must have reports, and 80 % of the sample."""
    if measure == "turnout":
        return Readiness(count.reported, count.sampled, count.missing_regions, min_reported)
    return Readiness(count.protocols, count.sampled,
                     tuple(r.region for r in count.regions if not r.protocols), min_reported)


def final_count(sample: Sample, turnout: Iterable[StationTurnout],
                protocols: Iterable[StationProtocol]) -> QuickCount:
    """The quick count the rule judges: the final figures alone (a station whose only figure
    is an earlier hour's count has not reported yet), at ``DISCREPANCY_CONFIDENCE``."""
    return quick_count(sample, [t for t in turnout if t.final], protocols,
                       DISCREPANCY_CONFIDENCE)


def discrepancies(count: QuickCount, official: Iterable[OfficialFigure], *,
                  confidence: float = DISCREPANCY_CONFIDENCE,
                  min_reported: float = MIN_REPORTED) -> list[Discrepancy]:
    """Every official figure the quick count contradicts, judged at ``confidence`` whatever
    the confidence ``count`` was computed at. Pass the ``final_count`` and the latest figure
    per level and region; a region unknown to the sample is skipped."""
    found: list[Discrepancy] = []
    for figure in official:
        found += _check(count, figure, confidence, min_reported)
    return found


def _check(count: QuickCount, figure: OfficialFigure, confidence: float,
           min_reported: float) -> list[Discrepancy]:
    scope = _scope(count, figure, min_reported)
    if scope is None:
        return []
    turnout_ready, shares_ready, turnout_at, shares_at = scope
    found = []
    if (turnout_ready.ready and turnout_at
            and _outside(turnout := turnout_at.at(confidence), figure.turnout_percent)):
        found.append(_discrepancy(count, figure, None, turnout, turnout_ready))
    if shares_ready.ready:
        for name, official in sorted(figure.shares.items()):
            share = shares_at.get(name)
            if share and _outside(at := share.at(confidence), official):
                found.append(_discrepancy(count, figure, name, at, shares_ready))
    return found


def _scope(count: QuickCount, figure: OfficialFigure, min_reported: float) -> tuple[
        Readiness, Readiness, Estimate | None, Mapping[str, Estimate]] | None:
    if figure.level == "national":
        return (national_readiness(count, "turnout", min_reported),
                national_readiness(count, "share", min_reported), count.turnout, count.shares)
    for region in count.regions:
        if region.region == figure.region:
            return (Readiness(region.reported, region.sampled, (), min_reported),
                    Readiness(region.protocols, region.sampled, (), min_reported),
                    region.turnout, region.shares)
    return None


def _outside(estimate: Estimate, official: float) -> bool:
    return not estimate.ci_low <= official <= estimate.ci_high


def _discrepancy(count: QuickCount, figure: OfficialFigure, candidate: str | None,
                 estimate: Estimate, readiness: Readiness) -> Discrepancy:
    official = figure.turnout_percent if candidate is None else figure.shares[candidate]
    return Discrepancy(count.sample_id, count.election_id, figure.level, figure.region,
                       "turnout" if candidate is None else "share", candidate, official,
                       estimate.estimate, estimate.ci_low, estimate.ci_high,
                       estimate.confidence, readiness.reported, readiness.sampled,
                       figure.source)
