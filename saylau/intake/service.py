"""The intake service: validate → dedup → append, for the JSON API and every channel."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter

from saylau.catalogue import Catalogue, FieldError
from saylau.db import UNAVAILABLE
from saylau.decode import compiled
from saylau.domain.vocabulary import ADMIN_TYPES, OPERATOR_TYPES
from saylau.envelope import partition_key
from saylau.intake import ingest_tables
from saylau.intake.log import ChainedLog
from saylau.intake.outcome import INGEST_ONLY, Checked, Outcome, Pending, Unavailable, item_id
from saylau.intake.personal import SealingKeys, fingerprint, seal
from saylau.intake.validation import validate_item
from saylau.privacy.keys import MasterKeyError

log = logging.getLogger("saylau.ingest")
ACCEPTED = Counter("saylau_events_accepted_total", "Events acknowledged by the broker")
REJECTED = Counter("saylau_events_rejected_total", "Events not appended", ["reason"])


@dataclass(frozen=True)
class Message:
    """What became of a channel message's events, all or nothing: ``accepted``,
    ``duplicate`` (a gateway retry) or ``rejected`` with the first ``error``."""

    status: str
    error: str | None = None


class Intake:
    """The one append path: validation, dedup by event id, the hash-chained log."""

    def __init__(self, log_: ChainedLog, pool: asyncpg.Pool, catalogue: Catalogue,
                 keys: SealingKeys) -> None:
        self.log, self.pool, self.catalogue = log_, pool, compiled(catalogue)
        self.keys = keys

    async def submit(self, items: list[Any], partner: str,
                     scopes: frozenset[str] = INGEST_ONLY) -> list[Outcome]:
        """Validate, dedup and append ``items``; one outcome per item, in order.

        Operator types (verify, reject, claim, escalate, comment) need the ``triage`` scope,
        ``personal_data.erased`` the ``admin`` scope.
        Raises Unavailable when PostgreSQL does not answer (nothing was appended).
        """
        return await self.submit_checked(self.check(items, scopes), partner)

    async def submit_message(self, items: list[Any], partner: str) -> Message:
        """A channel message's events, validated once as a whole: one invalid, none appended.

        Ids derive from the gateway's message id, so ids seen before mean a gateway retry.
        Raises Unavailable when PostgreSQL or Kafka does not answer.
        """
        checked = self.check(items, INGEST_ONLY)
        if checked.refused:
            return Message("rejected", checked.refused[0].errors[0].msg)
        outcomes = await self.submit_checked(checked, partner)
        if any(o.code == 503 for o in outcomes):
            raise Unavailable("not recorded: the log is unavailable; retry")
        return Message("duplicate" if all(o.code in (200, 409) for o in outcomes)
                       else "accepted")

    async def submit_checked(self, checked: Checked, partner: str) -> list[Outcome]:
        """Append what ``check`` passed (counted in the ingest metrics)."""
        outcomes = await self.append(checked, partner)
        for o in outcomes:
            (ACCEPTED.inc() if o.code == 202 else REJECTED.labels(o.status).inc())
        return outcomes

    def check(self, items: list[Any], scopes: frozenset[str]) -> Checked:
        """Each item's envelope, or its 422 (invalid) / 403 (needs the triage scope)."""
        now = datetime.now(UTC)
        checked = Checked([None] * len(items), [])
        for i, item in enumerate(items):
            envelope = validate_item(item, self.catalogue, now)
            if isinstance(envelope, list):
                checked.outcomes[i] = Outcome(422, "rejected", item_id(item), envelope)
            elif envelope.type in OPERATOR_TYPES and "triage" not in scopes:
                checked.outcomes[i] = Outcome(403, "forbidden", str(envelope.event_id), [
                    FieldError(("type",), f"{envelope.type} needs a key with the triage scope")])
            elif envelope.type in ADMIN_TYPES and "admin" not in scopes:
                checked.outcomes[i] = Outcome(403, "forbidden", str(envelope.event_id), [
                    FieldError(("type",), f"{envelope.type} needs a key with the admin scope")])
            else:
                wire = envelope.wire()
                checked.pending.append(Pending(i, envelope, wire, "",
                                               fingerprint=fingerprint(self.keys, wire)))
        return checked

    async def append(self, checked: Checked, partner: str) -> list[Outcome]:
        """Dedup, route and append what passed ``check``; every outcome, in order."""
        try:
            return await self._append(checked, partner)
        except UNAVAILABLE as exc:
            log.warning("database unavailable: %s", exc)
            raise Unavailable("database unavailable; nothing was appended") from exc
        except MasterKeyError as exc:
            log.error("%s", exc)
            raise Unavailable(f"{exc}; nothing was appended") from exc

    async def _append(self, checked: Checked, partner: str) -> list[Outcome]:
        now, outcomes = datetime.now(UTC), checked.outcomes
        pending = await self._dedup(checked.pending, outcomes)
        await self._route_reports(pending, outcomes)
        pending = [p for p in pending if outcomes[p.index] is None]
        await self._warn_unknown_stations(pending)
        await seal(pending, self.keys, self.catalogue)
        accepted = await self.log.append(pending, outcomes, partner, now)
        await ingest_tables.remember(self.pool, accepted, partner, now)
        return [o for o in outcomes if o is not None]

    async def _warn_unknown_stations(self, pending: list[Pending]) -> None:
        """Reports naming a station not in the registry are accepted, with a warning.

        Ingest keeps the ids of the stations it appended ``station.registered`` for (its own
        ``known_stations`` table, written with the dedup ids), so a station registered a
        moment ago is known at once, without waiting for the projector.
        """
        named = {p.envelope.station_id for p in pending if p.envelope.station_id}
        known = await ingest_tables.known_stations(self.pool, named)
        for p in pending:
            station = p.envelope.station_id
            if p.envelope.type == "station.registered" and station:
                known.add(station)
            elif station and station not in known:
                p.warnings.append(f"station {station!r} is not in the station registry; "
                                  "check the id (the report was accepted)")

    async def _dedup(self, pending: list[Pending], outcomes: list[Outcome | None]) -> list[Pending]:
        """Known ids: same content → duplicate (200), other content → conflict (409), by the
        keyed fingerprint of the plaintext (the sealed content hash differs on every retry)."""
        known = await ingest_tables.content_hashes(self.pool, [p.envelope.event_id
                                                               for p in pending])
        fresh = []
        for p in pending:
            eid = p.envelope.event_id
            if eid in known:
                same = known[eid] == p.fingerprint
                outcomes[p.index] = (Outcome(200, "duplicate", str(eid)) if same else Outcome(
                    409, "conflict", str(eid),
                    [FieldError(("event_id",), "already accepted with different content")]))
                continue
            known[eid] = p.fingerprint
            fresh.append(p)
        return fresh

    async def _route_reports(self, pending: list[Pending],
                             outcomes: list[Outcome | None]) -> None:
        """Triage reports go to their target's partition, so they always follow it."""
        targets = [uuid.UUID(str(p.envelope.payload["event_id"])) for p in pending
                   if targets_report(self.catalogue, p.envelope.type)]
        keys = await ingest_tables.kafka_keys(self.pool, targets)
        keys.update({p.envelope.event_id: partition_key(p.envelope) for p in pending})
        for p in pending:
            if not targets_report(self.catalogue, p.envelope.type):
                p.key = partition_key(p.envelope)
                continue
            target = uuid.UUID(str(p.envelope.payload["event_id"]))
            if target not in keys:
                outcomes[p.index] = Outcome(422, "rejected", str(p.envelope.event_id), [
                    FieldError(("payload", "event_id"), "no accepted event has this id")])
            else:
                p.key = keys[target]


def targets_report(catalogue: Catalogue, type_name: str) -> bool:
    """Types about an earlier report (scope ``report`` with a payload ``event_id``): they go
    to their target's partition, so the projector always sees them after it."""
    if catalogue.scope(type_name) != "report":
        return False
    schema = catalogue.schemas.get((type_name, catalogue.latest_version(type_name)), {})
    return "event_id" in schema.get("required", ())
