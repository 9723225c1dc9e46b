"""The words the read models share: event-type sets, report statuses and placeholders.

The only home of these names. SQL receives them as bind parameters, never as literals, so a
new type or status is added here once and every projection, query and ingest check follows.
"""
from __future__ import annotations

DETENTION_REPORTED = "detention.reported"
DETENTION_RELEASED = "detention.released"
DETENTION_TYPES = (DETENTION_REPORTED, DETENTION_RELEASED)

WITHDRAWING_REPORTS = {"report.retracted": "retracted", "report.rejected": "rejected"}
"""Reports that withdraw an earlier report, and the status they leave it in."""
WITHDRAWN_STATUSES = tuple(WITHDRAWING_REPORTS.values())
WITHDRAWING_TYPES = frozenset(WITHDRAWING_REPORTS)
TRIAGE_REPORTS = {**WITHDRAWING_REPORTS, "report.verified": "verified"}
TRIAGE_ACTIONS = {"triage.claimed": "claimed", "triage.escalated": "escalated",
                  "triage.commented": "commented"}
ESCALATED = "triage.escalated"
EVIDENCE_ATTACHED = "evidence.attached"
"""Adds evidence files to an earlier report (``payload.event_id``)."""
TARGETING = (*TRIAGE_REPORTS, *TRIAGE_ACTIONS, EVIDENCE_ATTACHED)
"""Types about an earlier report, named by ``payload.event_id``."""
OPERATOR_TYPES = frozenset({"report.verified", "report.rejected", *TRIAGE_ACTIONS})
"""Types only operators post: ingest requires the ``triage`` scope for them."""
PERSONAL_DATA_ERASED = "personal_data.erased"

UNVERIFIED = "unverified"
ABOUT_A_REPORT = "report"
"""The status of a triage report or action itself: it judges a report, it is not one."""

STATION_REGISTERED = "station.registered"
STATION_MOVED = "station.moved"
STATION_KEYED = (STATION_REGISTERED, STATION_MOVED)
OBSERVER_ACCREDITED = "observer.accredited"
OBSERVER_REVOKED = "observer.accreditation_revoked"
OBSERVER_ASSIGNED = "observer.assigned"
"""The stations an observer covers besides her accreditation's (the latest replaces them)."""
OBSERVER_ARRIVED = "observer.arrived"
OBSERVER_DEPARTED = "observer.departed"
PRESENCE_TYPES = (OBSERVER_ARRIVED, OBSERVER_DEPARTED)
"""Where an observer is now: her latest arrival or departure (station in the envelope)."""
TURNOUT_REPORTED = "turnout.reported"
TURNOUT_ANNOUNCED = "turnout.announced"
CHECKLIST_SUBMITTED = "checklist.submitted"
PROTOCOL_REPORTED = "protocol.reported"
SAMPLE_DRAWN = "sample.drawn"
OFFICIAL_RESULTS = "official.results_announced"
QUICKCOUNT_STATION_INPUTS = (TURNOUT_REPORTED, PROTOCOL_REPORTED, STATION_REGISTERED)
"""Types whose arrival or withdrawal at a sampled station changes its election's quick count."""
ADMIN_TYPES = frozenset({PERSONAL_DATA_ERASED, SAMPLE_DRAWN, OBSERVER_ASSIGNED})
"""Types only admins post (``saylau erase`` appends an erasure, ``POST
/v1/quickcount/samples`` a sample, never written by hand; the centre assigns observers to
stations): ingest requires the ``admin`` scope."""
MESSAGE_RECEIVED = "message.received"
BROADCAST_SENT = "broadcast.sent"
"""A message from the centre to observers: appended by ``POST /v1/broadcasts`` only."""
BROADCAST_READ = "broadcast.read"
"""An observer saw a message: posted by her app with her token only."""
BROADCAST_TYPES = (BROADCAST_SENT, BROADCAST_READ)
REGISTRY_TYPES = (STATION_REGISTERED, STATION_MOVED, OBSERVER_ACCREDITED, OBSERVER_REVOKED,
                  OBSERVER_ASSIGNED, TURNOUT_ANNOUNCED, SAMPLE_DRAWN, OFFICIAL_RESULTS)
NEEDS_STATION = (*STATION_KEYED, *PRESENCE_TYPES)
"""Types refused without the envelope's ``station_id``."""
TURNOUT_INPUTS = (TURNOUT_REPORTED, STATION_REGISTERED)
"""Types whose arrival or withdrawal means a station's turnout must be re-evaluated."""
NOT_REPORTS = (*TRIAGE_REPORTS, *TRIAGE_ACTIONS, MESSAGE_RECEIVED, *REGISTRY_TYPES,
               PERSONAL_DATA_ERASED, EVIDENCE_ATTACHED, *PRESENCE_TYPES, *BROADCAST_TYPES)
"""Types about reports (triage, raw inbound messages), registries and official figures, the
log itself (an erasure), observers' comings and goings or the centre's messages to them,
not reports of what happened (they join no triage queue and no reports-per-minute count)."""
SIGNS_OF_LIFE_EXCLUDED = tuple(t for t in NOT_REPORTS if t not in PRESENCE_TYPES)
"""Types that say nothing about whether a station is sending: every other event with a
``station_id`` (a report, a checklist, an arrival) is a sign of life of that station."""

UNKNOWN_REGION = "(unknown)"
UNSPECIFIED_CITY = "(unspecified)"


def detained_now(detained_total: int, released_total: int) -> int:
    """People still held; releases reported beyond detentions never make it negative."""
    return max(detained_total - released_total, 0)

BREACH_OPEN = "open"
BREACH_WITHDRAWN = "withdrawn"
"""A breach whose evidence was withdrawn stays on record with this status."""
