"""Corroboration: reports of one incident from several observers or channels count once.

Two reports are of the same incident when they name the same station (else the same
region/city), the same type, and fall in the same fixed ``corroboration_window_minutes``
bucket of ``occurred_at`` (UTC, from the epoch). The grouping depends only on each report's
own fields, never on arrival order or batch boundaries, so replay groups exactly as live
did. The price of fixed buckets: two reports a minute apart across a bucket edge are two
incidents.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import UNKNOWN_REGION
from saylau.envelope import Envelope

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def incident_location(event: Envelope) -> str:
    """The station, else ``region/city``: the same key the log partitions by."""
    if event.station_id:
        return event.station_id
    return f"{event.region or UNKNOWN_REGION}/{event.city or ''}"


def incident_bucket(occurred_at: datetime, config: RuleConfig) -> datetime:
    """Start of the fixed UTC bucket of ``occurred_at``."""
    width = timedelta(minutes=config.corroboration_window_minutes)
    return EPOCH + ((occurred_at.astimezone(UTC) - EPOCH) // width) * width
