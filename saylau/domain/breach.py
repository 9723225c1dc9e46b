"""Breaches and alerts: the value the rules produce, its stable id, and its withdrawal.

A breach id is derived from the rule and the events behind it, never random, so replaying
the log yields the same breaches and a projector can upsert them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import NAMESPACE_URL, uuid5

from saylau.domain.calendar import Election
from saylau.domain.legal import LegalRef
from saylau.domain.vocabulary import WITHDRAWING_TYPES
from saylau.envelope import Envelope

BREACH_NAMESPACE = uuid5(NAMESPACE_URL, "https://saylau.watch/breaches")
Severity = Literal["critical", "high", "medium", "low"]


@dataclass(frozen=True)
class Breach:
    """A rule an event (or a group of events) broke; ``legal_ref`` is None for alerts."""

    breach_id: str
    rule_id: str
    severity: Severity
    title: str
    legal_ref: LegalRef | None
    event_ids: tuple[str, ...]
    station_id: str | None
    region: str | None
    city: str | None
    occurred_at: datetime
    election_id: str | None
    kind: Literal["legal", "alert"]
    detail: Mapping[str, Any] | None = None
    """Figures behind an alert that its title only summarises (the quick count's estimate,
    interval and official figure); None for most breaches."""


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds for the monitoring alerts (the legal rules have none)."""

    surge_threshold: int = 20
    surge_window_minutes: int = 60
    kettling_max_hours: float = 3.0
    kettling_max_temp_c: float = 0.0
    turnout_jump_share: float = 0.15
    """Flag more than this share of the registered voters voting per hour between counts."""
    turnout_jump_voters: int = 300
    """The same, in voters per hour, for stations without registered voters in the registry."""
    corroboration_window_minutes: int = 30
    """Reports of one type at one station or place in one such fixed bucket are one incident."""


@dataclass(frozen=True)
class Case:
    """An event as the rules see it: payload at its latest version, its election if known."""

    event: Envelope
    payload: Mapping[str, Any]
    election: Election | None

    def local_time(self, election: Election) -> datetime:
        return election.local(self.event.occurred_at, self.event.region)


@dataclass(frozen=True)
class Finding:
    """What a rule found, before it is tied to the event as a Breach."""

    rule_id: str
    severity: Severity
    title: str
    legal_ref: LegalRef | None
    kind: Literal["legal", "alert"] = "legal"


Rule = Callable[[Case, RuleConfig], list[Finding]]


def breach_id(rule_id: str, event_ids: Sequence[str], extra: str = "") -> str:
    """Deterministic id, so replaying the log yields the same breaches."""
    key = rule_id + "|" + ",".join(sorted(event_ids)) + (f"|{extra}" if extra else "")
    return str(uuid5(BREACH_NAMESPACE, key))


def as_breach(case: Case, found: Finding) -> Breach:
    """Tie a finding to the event it was found in."""
    event = case.event
    event_ids = (str(event.event_id),)
    return Breach(
        breach_id=breach_id(found.rule_id, event_ids), rule_id=found.rule_id,
        severity=found.severity, title=found.title, legal_ref=found.legal_ref,
        event_ids=event_ids, station_id=event.station_id, region=event.region, city=event.city,
        occurred_at=event.occurred_at,
        election_id=case.election.id if case.election else event.election_id, kind=found.kind,
    )


def surge_bucket_start(occurred_at: datetime, config: RuleConfig) -> datetime:
    """Start of the fixed UTC bucket holding ``occurred_at``, so surges are order-independent."""
    width = timedelta(minutes=config.surge_window_minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((occurred_at.astimezone(UTC) - epoch) // width) * width


DETENTION_SURGE = "detention.surge"


def detention_surge(region: str, city: str | None, bucket_start: datetime,
                    detained_in_bucket: int, event_ids: Sequence[str],
                    config: RuleConfig) -> Breach | None:
    """Alert when more than ``surge_threshold`` people are detained in one place and bucket.

    Mass detentions on election day (300 people in nine cities in 2021, seed 003) are what a
    centre must react to first. The id depends on place and bucket only, so it stays the same
    as more detentions arrive in the bucket.
    """
    if detained_in_bucket <= config.surge_threshold:
        return None
    bucket = bucket_start.astimezone(UTC)
    rule_id = DETENTION_SURGE
    return Breach(
        breach_id=breach_id(rule_id, (), f"{region}|{city or ''}|{bucket.isoformat()}"),
        rule_id=rule_id, severity="high",
        title=f"{detained_in_bucket} people detained in {city or region} within "
              f"{config.surge_window_minutes} minutes",
        legal_ref=None, event_ids=tuple(sorted(event_ids)), station_id=None, region=region,
        city=city, occurred_at=bucket, election_id=None, kind="alert",
    )


def withdrawn_event_id(event: Envelope) -> str | None:
    """The earlier event a rejection or retraction withdraws, if ``event`` is one."""
    if event.type not in WITHDRAWING_TYPES:
        return None
    return str(event.payload["event_id"])


def withdrawn_by(retracted_event_id: str, breach_event_ids: Sequence[str]) -> bool:
    """A retracted or rejected report withdraws the breaches it alone supported."""
    return bool(breach_event_ids) and set(breach_event_ids) == {retracted_event_id}
