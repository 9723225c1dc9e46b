"""Pure projection: what one event adds to (or, when withdrawn, removes from) the read models.

No I/O here. ``Deltas`` aggregates a whole batch in memory so the store writes one upsert
per touched row, whatever the number of events behind it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from saylau.catalogue import Catalogue
from saylau.domain.checklists import ChecklistBook, checklist_book
from saylau.domain.rules import RuleConfig, surge_bucket_start
from saylau.envelope import Envelope
from saylau.fieldwork import TRIAGE_ACTIONS, FieldDeltas

UNSPECIFIED_CITY = "(unspecified)"
WITHDRAWING_REPORTS = {"report.retracted": "retracted", "report.rejected": "rejected"}
TRIAGE_REPORTS = {**WITHDRAWING_REPORTS, "report.verified": "verified"}
OPERATOR_TYPES = frozenset({"report.verified", "report.rejected", *TRIAGE_ACTIONS})
"""Types only operators post: ingest requires the ``triage`` scope for them."""


@lru_cache(maxsize=1024)
def is_incident(catalogue: Catalogue, type_name: str) -> bool:
    """Whether the catalogue marks this type as an incident (``x-saylau.incident``)."""
    schema = catalogue.schemas.get((type_name, catalogue.latest_version(type_name)), {})
    return bool(schema.get("x-saylau", {}).get("incident", False))


def incident_types(event: Envelope, catalogue: Catalogue, checklists: ChecklistBook) -> list[str]:
    """What ``event`` counts as at its station: itself if an incident, or its checklist's
    violations (``checklist.violation:<checklist>.<question>``), or nothing."""
    if event.type == "checklist.submitted":
        return checklists.violation_types(event.payload)
    return [event.type] if is_incident(catalogue, event.type) else []


def city_of(event: Envelope) -> tuple[str, str]:
    region = event.region or "(unknown)"
    return region, event.city or UNSPECIFIED_CITY


@dataclass
class Deltas:
    """Summed changes of one batch, keyed by read-model row."""

    station_incidents: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    stations: dict[str, list[Any]] = field(default_factory=dict)
    city_detentions: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    detention_buckets: dict[tuple[str, str, datetime], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    """Per city and time bucket: [detained by standing reports, detained ever reported]."""
    fieldwork: FieldDeltas = field(default_factory=FieldDeltas)
    checklists: ChecklistBook = field(default_factory=checklist_book)

    def add(self, event: Envelope, sign: int, catalogue: Catalogue, config: RuleConfig) -> None:
        """Count ``event`` once (sign=+1) or take it back (sign=-1)."""
        kinds = incident_types(event, catalogue, self.checklists)
        if event.station_id:
            self._add_station(event, sign, kinds)
        if event.type in ("detention.reported", "detention.released"):
            self._add_detention(event, sign, config)
        self.fieldwork.add(event, sign, kinds, config)

    def _add_station(self, event: Envelope, sign: int, kinds: list[str]) -> None:
        assert event.station_id
        row = self.stations.setdefault(event.station_id, [event.region, event.city, 0, None])
        row[0] = row[0] or event.region
        row[1] = row[1] or event.city
        for kind in kinds:
            self.station_incidents[(event.station_id, kind)] += sign
            row[2] += sign
            row[3] = max(filter(None, (row[3], event.occurred_at)))

    def _add_detention(self, event: Envelope, sign: int, config: RuleConfig) -> None:
        key = city_of(event)
        count = int(event.payload["count"]) * sign
        if event.type == "detention.reported":
            self.city_detentions[key][0] += count
            bucket = surge_bucket_start(event.occurred_at, config)
            totals = self.detention_buckets[(*key, bucket)]
            totals[0] += count
            totals[1] += max(count, 0)  # what was ever reported: a retraction does not undo it
        else:
            self.city_detentions[key][1] += count
