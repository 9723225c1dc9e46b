"""What intake answers for each submitted item, and the items on their way to the log."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from saylau.catalogue import FieldError
from saylau.domain.roles import NATIONAL, Reach
from saylau.envelope import Envelope

INGEST_ONLY = frozenset({"ingest"})


class Unavailable(Exception):
    """PostgreSQL did not answer: nothing was appended (answer 503, the sender retries)."""


@dataclass
class Outcome:
    """What happened to one submitted item; ``code`` is its HTTP status."""

    code: int
    status: str
    event_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    partition: int | None = None
    offset: int | None = None
    warnings: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        if self.offset is not None:
            out.update(partition=self.partition, offset=self.offset)
        if self.code == 202:
            out["warnings"] = self.warnings
        return out


@dataclass
class Pending:
    """A valid item not yet appended: its envelope, wire form (names sealed before it is
    appended), content hash (of the sealed wire), Kafka key, ``fingerprint``: the keyed
    hash of the plaintext envelope that dedup compares, and the partner that sent it (one
    group commit carries several partners' requests)."""

    index: int
    envelope: Envelope
    wire: dict[str, Any]
    digest: str
    key: str = ""
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""
    partner: str = ""
    reach: Reach = NATIONAL
    """The regions of the key or account that sent it: a report it points at must be in
    them (``saylau.intake.reach``)."""
    actor: str | None = None
    """Who did it, for triage events: the account's login or the key's partner, stamped on
    the stored record beside ``partner`` (never taken from the body)."""


@dataclass
class Checked:
    """A submission after validation: an outcome for each refused item, the rest pending."""

    outcomes: list[Outcome | None]
    pending: list[Pending]
    since: float = 0.0
    """When it was queued for a group commit (event-loop time): its acknowledgement
    deadline counts from there, so waiting behind other groups never prolongs it."""

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o is not None]


NO_SUCH_REPORT = "no accepted event has this id"


def unknown_target(p: Pending) -> Outcome:
    """The answer to an item pointing at a report nobody accepted, and at one outside the
    sender's regions alike: the two cannot be told apart."""
    return Outcome(422, "rejected", str(p.envelope.event_id),
                   [FieldError(("payload", "event_id"), NO_SUCH_REPORT)])


def item_id(item: Any) -> str | None:
    return str(item.get("event_id")) if isinstance(item, dict) and "event_id" in item else None
