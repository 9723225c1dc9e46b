"""Turnout counts that cannot be right: jumps between two counts, more voters than registered.

Pure functions of one station's whole series of counts (the latest count per hour), so the
projector can re-evaluate a station from its committed counts after every batch and get the
same alerts whatever the order the counts arrived in. Alert ids depend on election, station
and hour only: a corrected count replaces the alert rather than adding one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from saylau.domain.breach import Breach, RuleConfig, breach_id

JUMP, ABOVE_REGISTERED = "turnout.jump", "turnout.above_registered"
TURNOUT_RULES = (JUMP, ABOVE_REGISTERED)


@dataclass(frozen=True)
class TurnoutCount:
    """The standing count of voters who had voted at a station by ``hour`` (local)."""

    hour: int
    voters: int
    event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class StationSeries:
    """A station's counts in one election with what the registry knows of it (a second round
    at the same station is a series of its own)."""

    station_id: str
    region: str | None
    city: str | None
    registered_voters: int | None
    counts: Sequence[TurnoutCount]
    election_id: str | None = None


def jump_limit(hours: int, registered_voters: int | None, config: RuleConfig) -> float:
    """Most voters plausible in ``hours``: a share of the registered voters, else a fixed rate."""
    if registered_voters:
        return config.turnout_jump_share * registered_voters * hours
    return float(config.turnout_jump_voters * hours)


def turnout_alerts(series: StationSeries, config: RuleConfig) -> list[Breach]:
    """Every alert the station's counts give rise to, ordered by hour."""
    counts = sorted(series.counts, key=lambda c: c.hour)
    found = [_above_registered(series, c) for c in counts]
    found += [_jump(series, before, after, config) for before, after in pairwise(counts)]
    return sorted((b for b in found if b is not None), key=lambda b: (b.occurred_at, b.rule_id))


def _jump(series: StationSeries, before: TurnoutCount, after: TurnoutCount,
          config: RuleConfig) -> Breach | None:
    gained = after.voters - before.voters
    if gained <= jump_limit(after.hour - before.hour, series.registered_voters, config):
        return None
    title = (f"Turnout jumped by {gained} voters between {before.hour:02d}:00 and "
             f"{after.hour:02d}:00")
    return _alert(series, JUMP, after, (before.event_id, after.event_id), title)


def _above_registered(series: StationSeries, count: TurnoutCount) -> Breach | None:
    if series.registered_voters is None or count.voters <= series.registered_voters:
        return None
    title = (f"{count.voters} voters counted by {count.hour:02d}:00, more than the "
             f"{series.registered_voters} registered")
    return _alert(series, ABOVE_REGISTERED, count, (count.event_id,), title)


def _alert(series: StationSeries, rule_id: str, at: TurnoutCount, event_ids: tuple[str, ...],
           title: str) -> Breach:
    where = f"{series.station_id}|{at.hour}"
    return Breach(
        breach_id=breach_id(rule_id, (), f"{series.election_id}|{where}" if series.election_id
                            else where), rule_id=rule_id,
        severity="high", title=title, legal_ref=None, event_ids=tuple(sorted(event_ids)),
        station_id=series.station_id, region=series.region, city=series.city,
        occurred_at=at.occurred_at, election_id=series.election_id, kind="alert")
