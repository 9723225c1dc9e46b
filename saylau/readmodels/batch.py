"""What a batch of new events means for the read models, decided in memory. Pure.

``plan_batch`` first places each new event at a station in its station's registry region as
of that event (``saylau.readmodels.placing``; an event pointing at a report keeps taking that
report's region), then walks them in log order: a verification, rejection or retraction
changes an earlier report's status (a withdrawn report is counted back, -1); an operator's
claim, escalation or comment is recorded; every other event is counted (+1) and checked
against the breach rules. The read models then fold the resulting ``Batch``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from saylau.catalogue import Catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.checklists import ChecklistBook
from saylau.domain.rules import RULES, RuleConfig, breaches
from saylau.domain.vocabulary import (
    CHECKLIST_SUBMITTED,
    ESCALATED,
    EVIDENCE_ATTACHED,
    MESSAGE_RECEIVED,
    TARGETING,
    TRIAGE_ACTIONS,
    TRIAGE_REPORTS,
    UNVERIFIED,
    WITHDRAWN_STATUSES,
)
from saylau.envelope import Envelope
from saylau.log.decode import Decoded
from saylau.privacy.sealing import TEXT_WITHHELD
from saylau.readmodels.base import Action, Batch, Change, Counted, Whereabouts
from saylau.readmodels.placing import Registered, StationRegions, placed

Targets = dict[uuid.UUID, tuple[Envelope, str, str | None]]
"""Earlier events the batch's events point at (``pointed_at``), with their stored status and
region (the ``events.region`` column: their own place's, or what they point at's)."""


def pointed_at(event: Envelope) -> uuid.UUID | None:
    """The earlier event this one is about: a triage action's or report's and an evidence
    file's ``payload.event_id``, a message's first report (the message is located where that
    report is, ``saylau.channels.message_event``); None for everything else."""
    if event.type in TARGETING:
        return uuid.UUID(str(event.payload["event_id"]))
    if event.type == MESSAGE_RECEIVED and event.payload.get("event_ids"):
        return uuid.UUID(str(event.payload["event_ids"][0]))
    return None


@lru_cache(maxsize=1024)
def is_incident(catalogue: Catalogue, type_name: str) -> bool:
    """Whether the catalogue marks this type as an incident (``x-saylau.incident``)."""
    schema = catalogue.schemas.get((type_name, catalogue.latest_version(type_name)), {})
    return bool(schema.get("x-saylau", {}).get("incident", False))


def incident_types(event: Envelope, catalogue: Catalogue, checklists: ChecklistBook) -> list[str]:
    """What ``event`` counts as at its station: itself if an incident, or its checklist's
    violations (``checklist.violation:<checklist>.<question>``), or nothing."""
    if event.type == CHECKLIST_SUBMITTED:
        return checklists.violation_types(event.payload)
    return [event.type] if is_incident(catalogue, event.type) else []


@dataclass(frozen=True)
class Planner:
    """The catalogue, calendars, checklists and thresholds a batch is planned with."""

    catalogue: Catalogue
    calendars: Calendars
    config: RuleConfig
    checklists: ChecklistBook

    def counted(self, event: Envelope, sign: int, withdrawn_at: datetime | None = None
                ) -> Counted:
        return Counted(event, sign, tuple(incident_types(event, self.catalogue,
                                                         self.checklists)), withdrawn_at)

    def plan(self, new: list[Decoded], targets: Targets,
             registered: Registered | None = None) -> Batch:
        """The ``Batch`` of ``new`` events; ``targets`` are the reports they may judge (in
        the region stored with them); ``registered``: the registry entries of the stations
        ``new`` names, before it (``saylau.readmodels.placing``)."""
        stations = StationRegions(dict(registered or {}))
        new = [item if pointed_at(item.event) else stations.place(item) for item in new]
        targets = {eid: (placed(target, region), status, region)
                   for eid, (target, status, region) in targets.items()}
        batch = Batch(applied=new, calendars=self.calendars, by_registry=stations.by_registry)
        places = {eid: Whereabouts(region, target.station_id)
                  for eid, (target, _, region) in targets.items()}
        for item in new:
            event = item.event
            locate(event, places, batch)
            if event.type in TRIAGE_REPORTS:
                self._judge(event, targets, batch)
            elif event.type in TRIAGE_ACTIONS:
                batch.actions.append(Action(event, item.record.get("partner"),
                                            item.record.get("actor")))
                if event.type == ESCALATED:
                    batch.urgent.append(urgent_change(event, targets, batch))
            elif event.type == EVIDENCE_ATTACHED:
                continue        # files for an earlier report (read model event_evidence) only
            else:
                batch.counted.append(self.counted(event, +1))
                if event.type in RULES:  # most reports break no rule: skip the calendar work
                    batch.found += breaches(event, self.calendars, self.config)
                targets[event.event_id] = (event, UNVERIFIED, None)
        return batch

    def _judge(self, report: Envelope, targets: Targets, batch: Batch) -> None:
        """Verify, reject or retract an earlier report; the log itself is never edited."""
        target_id = uuid.UUID(str(report.payload["event_id"]))
        if target_id not in targets:
            return
        target, status, _ = targets[target_id]
        status = batch.statuses.get(target_id, status)
        new_status = TRIAGE_REPORTS[report.type]
        if status in WITHDRAWN_STATUSES:
            return
        if new_status in WITHDRAWN_STATUSES:
            batch.counted.append(self.counted(target, -1, report.occurred_at))
        batch.statuses[target_id] = new_status


def locate(event: Envelope, places: dict[uuid.UUID, Whereabouts], batch: Batch) -> None:
    """Record where ``event`` belongs when it has no place of its own and points at an event
    whose place is known (stored, or earlier in the log: ingest appends a triage event to its
    report's partition, a message after its reports, so what it points at comes first in
    live and in replay alike); then remember ``event``'s place for those pointing at it."""
    pointer = pointed_at(event)
    if pointer is not None and event.region is None and pointer in places:
        batch.about[event.event_id] = places[pointer]
    places[event.event_id] = Whereabouts(batch.region_of(event), batch.station_of(event))


def event_change(event: Envelope, batch: Batch) -> Change:
    """The change-feed entry of a new event, placed where it belongs (``Batch.region_of``)."""
    return {"kind": "event", "region": batch.region_of(event),
            "station_id": batch.station_of(event),
            "data": {"event_id": str(event.event_id), "type": event.type,
                     "occurred_at": event.occurred_at.isoformat(), "city": event.city}}


def urgent_change(escalation: Envelope, targets: Targets, batch: Batch) -> dict[str, Any]:
    """A report escalated as urgent: pushed on the live feed in the escalation's own batch.
    The feed reaches every subscriber, so the reason (free text) is withheld: who may read
    it reads the escalation (``escalation_id``)."""
    report_id = uuid.UUID(str(escalation.payload["event_id"]))
    report = targets[report_id][0] if report_id in targets else None
    return {"kind": "urgent", "region": batch.region_of(escalation),
            "station_id": batch.station_of(escalation),
            "data": {"event_id": str(report_id), "escalation_id": str(escalation.event_id),
                     "type": report and report.type, "reason": TEXT_WITHHELD,
                     "operator": escalation.payload.get("operator"),
                     "escalated_at": escalation.occurred_at.isoformat()}}
