"""What an observer's token may post: field reports at her stations, in her own name. Pure.

An observer signs in with a PIN (``saylau.web.observers``) and posts through the same intake
as every partner; these rules are the one place that narrows what her token may append,
whichever route the report takes (``Intake.check``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from saylau.domain.vocabulary import BROADCAST_READ, EVIDENCE_ATTACHED, REGISTRY_TYPES
from saylau.envelope import Envelope

FIELD_SCOPES = frozenset({"station", "place", "campaign"})
"""Where the things an observer sees happen (``x-saylau.scope``); registry, report (triage)
and log types are the centre's."""
OBSERVER_SCOPE = "observer"
"""The only scope of an observer's token (no API key has it)."""
PARTNER_PREFIX = "observer:"
"""The server-set ``partner`` of an observer's reports: ``observer:<observer_id>``."""

Refusal = tuple[tuple[str, ...], str]
"""Where in the envelope a report breaks a rule, and why (the intake's 403)."""


@dataclass(frozen=True)
class ObserverGrant:
    """Who an observer token stands for: her id, the election of her accreditation, her
    stations (the accreditation's and the latest assignment's), and, once her accreditation
    is revoked, why (``revoked``: the token is then refused with that reason)."""

    observer_id: str
    election_id: str | None
    station_ids: frozenset[str]
    revoked: str | None = None

    @property
    def partner(self) -> str:
        return f"{PARTNER_PREFIX}{self.observer_id}"


def stations_of(accredited_to: str | None, assigned: Iterable[str] | None) -> frozenset[str]:
    """Her stations: the latest assignment's, and always her accreditation's."""
    return frozenset(filter(None, (accredited_to, *(assigned or ()))))


def may_post(type_name: str, scope: str) -> bool:
    """Field reports (incidents, checklists, turnout, protocols, presence), evidence for a
    report and that she read a message from the centre; never registry, official, triage,
    sample, checkpoint, erasure or broadcast events."""
    if type_name in (EVIDENCE_ATTACHED, BROADCAST_READ):
        return True
    return scope in FIELD_SCOPES and type_name not in REGISTRY_TYPES


def observer_refusal(envelope: Envelope, scope: str, grant: ObserverGrant) -> Refusal | None:
    """Why ``grant``'s token may not append ``envelope`` (its 403), or None.

    A station-keyed report must name one of her stations; a place-keyed one (no
    ``station_id``, e.g. a detention in a square) may come from anywhere.
    """
    if not may_post(envelope.type, scope):
        return ("type",), (f"{envelope.type} is not a field report: an observer token may "
                           "post incidents, checklists, turnout, protocols, arrivals, "
                           "departures, evidence and that she read a message")
    claimed = envelope.payload.get("observer_id")
    if claimed is not None and claimed != grant.observer_id:
        return ("payload", "observer_id"), (f"observer_id {claimed!r} is not the signed-in "
                                            f"observer {grant.observer_id!r}")
    station = envelope.station_id
    if station is not None and station not in grant.station_ids:
        return ("station_id",), (f"station {station!r} is not one of observer "
                                 f"{grant.observer_id}'s stations "
                                 f"({', '.join(sorted(grant.station_ids)) or 'none'})")
    if envelope.election_id not in (None, grant.election_id):
        return ("election_id",), (f"election {envelope.election_id!r} is not the election of "
                                  f"observer {grant.observer_id}'s accreditation "
                                  f"({grant.election_id})")
    return None
