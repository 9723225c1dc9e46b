"""Pure projection of the field registries, corroborated incidents, turnout and triage actions.

No I/O. ``FieldDeltas`` is the part of a batch's ``Deltas`` for these read models. Every
merge here is order-independent, so live and replay agree whatever the batch boundaries:
registry rows take each part from the latest event by its stamp (``occurred_at|event_id``),
incident groups are sets of report ids, triage actions are inserted once by id.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from saylau.domain.breach import RuleConfig
from saylau.domain.corroboration import incident_bucket, incident_location
from saylau.envelope import Envelope

TRIAGE_ACTIONS = {"triage.claimed": "claimed", "triage.escalated": "escalated",
                  "triage.commented": "commented"}
TURNOUT_INPUTS = ("turnout.reported", "station.registered")
"""Types whose arrival or withdrawal means a station's turnout must be re-evaluated."""
GroupKey = tuple[str, str, datetime]


def stamp(event: Envelope) -> str:
    """Sortable text of (occurred_at in UTC, event_id): later stamp, later fact."""
    moment = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{moment}|{event.event_id}"


@dataclass
class Group:
    """Reports of one incident added (+1) or withdrawn (-1) by the batch."""

    station_id: str | None
    region: str | None
    """For the change feed only: the region of the first report of the batch."""
    ids: dict[str, int] = field(default_factory=dict)


@dataclass
class FieldDeltas:
    """The batch's registry, observer, incident-group, turnout and triage changes."""

    details: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """station_id → (stamp, number, region, district, city, registered_voters)."""
    locations: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """station_id → (stamp, address, lat, lon)."""
    accreditations: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """observer_id → (stamp, organisation, name, station_id)."""
    statuses: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """observer_id → (stamp, accredited)."""
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    announced: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    turnout_stations: set[str] = field(default_factory=set)
    actions: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, event: Envelope, sign: int, incident_types: list[str],
            config: RuleConfig) -> None:
        """Count ``event`` once (sign=+1) or take it back (sign=-1)."""
        for type_name in incident_types:
            self._group(event, type_name, sign, config)
        if event.type in TURNOUT_INPUTS and event.station_id:
            self.turnout_stations.add(event.station_id)
        if sign > 0:  # registry facts are corrected by later events, not withdrawn
            self._register(event)

    def add_action(self, event: Envelope, partner: str | None) -> None:
        """An operator's claim, escalation or comment on an earlier report."""
        p = event.payload
        self.actions.append((event.event_id, p["event_id"], TRIAGE_ACTIONS[event.type],
                             event.occurred_at, partner, p.get("operator"),
                             p.get("note", p.get("reason"))))

    def _group(self, event: Envelope, type_name: str, sign: int, config: RuleConfig) -> None:
        key = (incident_location(event), type_name, incident_bucket(event.occurred_at, config))
        group = self.groups.setdefault(key, Group(event.station_id, event.region))
        event_id = str(event.event_id)
        group.ids[event_id] = group.ids.get(event_id, 0) + sign

    def _register(self, event: Envelope) -> None:
        p, at = event.payload, stamp(event)
        if event.type == "station.registered" and event.station_id:
            _latest(self.details, event.station_id, (
                at, p["number"], p["region"], p.get("district"), p.get("city"),
                p["registered_voters"]))
        if event.type in ("station.registered", "station.moved") and event.station_id:
            _latest(self.locations, event.station_id, (at, p["address"], p.get("lat"),
                                                        p.get("lon")))
        if event.type == "observer.accredited":
            _latest(self.accreditations, p["observer_id"], (
                at, p["organisation"], p["name"], p.get("station_id")))
        if event.type in ("observer.accredited", "observer.accreditation_revoked"):
            _latest(self.statuses, p["observer_id"], (at, event.type == "observer.accredited"))
        if event.type == "turnout.announced" and event.region:
            _latest(self.announced, (event.region, p["hour"]), (at, float(p["percent"])))


def _latest(rows: dict[Any, Any], key: Any, row: tuple[Any, ...]) -> None:
    """Keep the row with the greater stamp (its first element)."""
    if key not in rows or row[0] > rows[key][0]:
        rows[key] = row
