"""The intake service: validate → dedup → append, for the JSON API and every channel."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter, Histogram

from saylau.catalogue import Catalogue, FieldError
from saylau.domain.observers import OBSERVER_SCOPE, ObserverGrant, observer_refusal
from saylau.domain.roles import NATIONAL, Reach
from saylau.domain.vocabulary import ADMIN_TYPES, BROADCAST_READ, BROADCAST_SENT, OPERATOR_TYPES
from saylau.envelope import Envelope, partition_key
from saylau.intake import ingest_tables
from saylau.intake.broadcasts import refuse_unaddressed_reads
from saylau.intake.evidence import refuse_unknown_evidence
from saylau.intake.group import GroupCommit
from saylau.intake.log import ACK_TIMEOUT_SECONDS, ChainedLog
from saylau.intake.outcome import (
    INGEST_ONLY,
    Checked,
    Outcome,
    Pending,
    Unavailable,
    item_id,
    unknown_target,
)
from saylau.intake.personal import SealingKeys, fingerprint, seal
from saylau.intake.reach import refuse_other_regions
from saylau.intake.samples import checked_draws
from saylau.intake.validation import validate_item
from saylau.log.checkpoint import EVENT_TYPE as CHECKPOINT_TYPE
from saylau.log.decode import compiled
from saylau.log.watch import LogWatch
from saylau.privacy.keys import MasterKeyError
from saylau.store.db import UNAVAILABLE

log = logging.getLogger("saylau.ingest")
ACCEPTED = Counter("saylau_events_accepted_total", "Events acknowledged by the broker")
MAX_GROUP = 5000
"""Items per group commit at most (a group holds whole requests, so up to 5 batches)."""
FLUSHES_IN_FLIGHT = 3
"""Group commits at once: a group's lookup overlaps the previous group's acknowledgements."""
SPILL = 16
"""Items waiting before a second (third) group commit starts beside the running one: below
that they wait for it and go together in the next."""
REJECTED = Counter("saylau_events_rejected_total", "Events not appended", ["reason"])
GROUP_ITEMS = Histogram("saylau_ingest_group_items", "Items per group commit",
                        buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1000, 5000))
GROUP_SECONDS = Histogram("saylau_ingest_group_seconds", "Seconds per group commit",
                          buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5))


@dataclass(frozen=True)
class Message:
    """What became of a channel message's events, all or nothing: ``accepted``,
    ``duplicate`` (a gateway retry) or ``rejected`` with the first ``error``."""

    status: str
    error: str | None = None


class Intake:
    """The one append path: validation, dedup by event id, the hash-chained log."""

    def __init__(self, log_: ChainedLog, pool: asyncpg.Pool, catalogue: Catalogue,
                 keys: SealingKeys, watch: LogWatch | None = None,
                 read_schema: str | None = None) -> None:
        self.log, self.pool, self.catalogue = log_, pool, compiled(catalogue)
        self.keys = keys
        self.watch = watch
        """The events topic's id as verified at start; once it differs, nothing is appended."""
        self.read_schema = read_schema
        """Where the read models hold the quick-count samples ingest did not record itself
        (``saylau.intake.samples``)."""
        self.group: GroupCommit[Checked, list[Outcome]] = GroupCommit(
            self._flush, size=lambda checked: len(checked.pending), max_items=MAX_GROUP,
            concurrency=FLUSHES_IN_FLIGHT, spill=SPILL)
        self.inflight: dict[uuid.UUID, asyncio.Future[None]] = {}
        """Each id a running group commit holds, and that group's end."""

    async def submit(self, items: list[Any], partner: str,
                     scopes: frozenset[str] = INGEST_ONLY,
                     observer: ObserverGrant | None = None, reach: Reach = NATIONAL,
                     actor: str | None = None) -> list[Outcome]:
        """Validate, dedup and append ``items``; one outcome per item, in order.

        Operator types (verify, reject, claim, escalate, comment) need the ``triage`` scope,
        ``personal_data.erased`` the ``admin`` scope; an observer's token (``observer``)
        posts field reports at her stations only (``saylau.domain.observers``). A sender
        bound to regions (``reach``) acts on her regions' reports only
        (``saylau.intake.reach``); triage events record ``actor`` (else ``partner``).
        Raises Unavailable when PostgreSQL does not answer (nothing was appended).
        """
        return await self.submit_checked(self.check(items, scopes, observer), partner,
                                         reach, actor)

    async def submit_broadcast(self, item: dict[str, Any], partner: str) -> Outcome:
        """Append a ``broadcast.sent`` that ``POST /v1/broadcasts`` built and addressed (the
        one way one is appended). Raises Unavailable like ``submit``."""
        checked = self.check([item], frozenset({"broadcast"}), broadcast=True)
        return (await self.submit_checked(checked, partner))[0]

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

    async def submit_checked(self, checked: Checked, partner: str, reach: Reach = NATIONAL,
                             actor: str | None = None) -> list[Outcome]:
        """Append what ``check`` passed (counted in the ingest metrics)."""
        outcomes = await self.append(checked, partner, reach, actor)
        for o in outcomes:
            (ACCEPTED.inc() if o.code == 202 else REJECTED.labels(o.status).inc())
        return outcomes

    def check(self, items: list[Any], scopes: frozenset[str],
              observer: ObserverGrant | None = None, broadcast: bool = False) -> Checked:
        """Each item's envelope, or its 422 (invalid) / 403 (not this caller's to post: see
        ``forbidden``); ``broadcast``: the items come from ``POST /v1/broadcasts``, which
        checked where they may go."""
        now = datetime.now(UTC)
        checked = Checked([None] * len(items), [])
        for i, item in enumerate(items):
            envelope = validate_item(item, self.catalogue, now)
            if isinstance(envelope, list):
                checked.outcomes[i] = Outcome(422, "rejected", item_id(item), envelope)
            elif (refused := self.forbidden(envelope, scopes, observer, broadcast)) is not None:
                checked.outcomes[i] = Outcome(403, "forbidden", str(envelope.event_id),
                                              [refused])
            else:
                wire = envelope.wire()
                checked.pending.append(Pending(i, envelope, wire, "",
                                               fingerprint=fingerprint(self.keys, wire)))
        return checked

    def forbidden(self, envelope: Envelope, scopes: frozenset[str],
                  observer: ObserverGrant | None, broadcast: bool = False) -> FieldError | None:
        """Why this caller may not post ``envelope``: an observer's token only field reports
        at her stations; a chain checkpoint and admin types need the admin scope, operator
        types (verify, reject, claim, escalate, comment) the triage scope; a broadcast is
        sent with ``POST /v1/broadcasts`` only, and only an observer reads one."""
        if (envelope.type == BROADCAST_SENT) != broadcast:
            return FieldError(("type",), f"{BROADCAST_SENT} is sent with POST /v1/broadcasts")
        if observer is not None:
            refused = observer_refusal(envelope, self.catalogue.scope(envelope.type), observer)
            return FieldError(*refused) if refused else None
        if OBSERVER_SCOPE in scopes:  # a route that forgot to pass her grant: nothing passes
            return FieldError(("type",), "an observer's token posts only with her grant")
        if envelope.type == CHECKPOINT_TYPE and "admin" not in scopes:
            return FieldError(("type",), f"{envelope.type} is written by 'saylau checkpoint' "
                                         "(admin)")
        if envelope.type in OPERATOR_TYPES and "triage" not in scopes:
            return FieldError(("type",), f"{envelope.type} needs a key with the triage scope")
        if envelope.type == BROADCAST_READ:
            return FieldError(("type",), f"{BROADCAST_READ} is posted by the observer app, "
                                         "with her token")
        if envelope.type in ADMIN_TYPES and "admin" not in scopes:
            return FieldError(("type",), f"{envelope.type} needs a key with the admin scope")
        return None

    async def append(self, checked: Checked, partner: str, reach: Reach = NATIONAL,
                     actor: str | None = None) -> list[Outcome]:
        """Dedup, route and append what passed ``check``; every outcome, in order.

        Concurrent requests share a group commit (``saylau.intake.group``); a submission
        with nothing left to append costs no query at all.
        """
        if not checked.pending:
            return checked.refused
        if self.watch is not None and self.watch.refusal is not None:
            raise Unavailable(f"not recorded: {self.watch.refusal}")
        for p in checked.pending:
            p.partner, p.reach = partner, reach
            if p.envelope.type in OPERATOR_TYPES:  # who triaged: the server's word, not the body's
                p.actor = actor or partner
        checked.since = asyncio.get_running_loop().time()
        try:
            return await self.group.submit(checked)
        except UNAVAILABLE as exc:
            log.warning("database unavailable: %s", exc)
            raise Unavailable("database unavailable; nothing was appended") from exc
        except MasterKeyError as exc:
            log.error("%s", exc)
            raise Unavailable(f"{exc}; nothing was appended") from exc

    async def _flush(self, group: list[Checked]) -> list[list[Outcome]]:
        """One group commit: the submissions' items as one list, then each its outcomes."""
        outcomes: list[Outcome | None] = []
        pending: list[Pending] = []
        spans = []
        for checked in group:
            start = len(outcomes)
            for p in checked.pending:
                p.index += start
            outcomes += checked.outcomes
            pending += checked.pending
            spans.append((start, len(outcomes)))
        with GROUP_SECONDS.time():
            await self._in_order(Checked(outcomes, pending, min(c.since for c in group)))
        GROUP_ITEMS.observe(len(pending))
        return [[o for o in outcomes[a:b] if o is not None] for a, b in spans]

    async def _in_order(self, checked: Checked) -> None:
        """``_append``, after any running group holding one of these ids has finished: its
        ids are then recorded, so this group's lookup sees them (one id, one 202)."""
        done = asyncio.get_running_loop().create_future()
        before = set()
        ids = [p.envelope.event_id for p in checked.pending]
        for eid in ids:
            held = self.inflight.get(eid)
            if held is not None and held is not done:
                before.add(held)
            self.inflight[eid] = done
        try:
            if before:
                await asyncio.wait(before)
            await self._append(checked)
        finally:
            done.set_result(None)
            for eid in ids:
                if self.inflight.get(eid) is done:
                    del self.inflight[eid]

    async def _append(self, checked: Checked) -> None:
        """One lookup (dedup, routing, known stations), one produce batch, one insert (and,
        for quick-count samples, the check that a replacement names what it replaces)."""
        now, outcomes, pending = datetime.now(UTC), checked.outcomes, checked.pending
        targets = {p.index: uuid.UUID(str(p.envelope.payload["event_id"])) for p in pending
                   if targets_report(self.catalogue, p.envelope.type)}
        known = await ingest_tables.lookup(
            self.pool, [*(p.envelope.event_id for p in pending), *targets.values()],
            (p.envelope.station_id for p in pending if p.envelope.station_id))
        pending, followers = self._dedup(pending, outcomes, known.hashes)
        self._route_reports(pending, outcomes, known.keys, targets)
        await refuse_other_regions(self.pool, self.read_schema, pending, outcomes, targets)
        await refuse_unknown_evidence(self.pool, pending, outcomes)
        await refuse_unaddressed_reads(self.pool, self.read_schema, pending, outcomes)
        pending = [p for p in pending if outcomes[p.index] is None]
        self._warn_unknown_stations(pending, known.stations)
        async with checked_draws(self.pool, pending, outcomes, self.read_schema):
            pending = [p for p in pending if outcomes[p.index] is None]
            await seal(pending, self.keys, self.catalogue)
            accepted = await self.log.append(pending, outcomes, now,
                                             deadline=checked.since + ACK_TIMEOUT_SECONDS)
        await ingest_tables.remember(self.pool, accepted, now)
        for p, leader in followers:  # a copy answers 200 only once its first was accepted
            first = outcomes[leader.index]
            if first is not None and first.code != 202:
                outcomes[p.index] = Outcome(first.code, first.status, first.event_id,
                                            first.errors)

    @staticmethod
    def _warn_unknown_stations(pending: list[Pending], known: set[str]) -> None:
        """Reports naming a station not in the registry are accepted, with a warning.

        Ingest keeps the ids of the stations it appended ``station.registered`` for (its own
        ``known_stations`` table, written with the dedup ids), so a station registered a
        moment ago is known at once, without waiting for the projector.
        """
        for p in pending:
            station = p.envelope.station_id
            if p.envelope.type == "station.registered" and station:
                known.add(station)
            elif station and station not in known:
                p.warnings.append(f"station {station!r} is not in the station registry; "
                                  "check the id (the report was accepted)")

    @staticmethod
    def _dedup(pending: list[Pending], outcomes: list[Outcome | None],
               known: dict[uuid.UUID, str]) -> tuple[list[Pending],
                                                     list[tuple[Pending, Pending]]]:
        """Known ids: same content → duplicate (200), other content → conflict (409), by the
        keyed fingerprint of the plaintext (the sealed content hash differs on every retry).

        An id twice in one group: the first goes on; a copy is a duplicate of it (and
        follows it if it is not accepted), other content a conflict.
        """
        fresh: list[Pending] = []
        first: dict[uuid.UUID, Pending] = {}
        followers = []
        for p in pending:
            eid = p.envelope.event_id
            if eid in known:
                same = known[eid] == p.fingerprint
                outcomes[p.index] = (Outcome(200, "duplicate", str(eid)) if same else Outcome(
                    409, "conflict", str(eid),
                    [FieldError(("event_id",), "already accepted with different content")]))
                if same and eid in first:
                    followers.append((p, first[eid]))
                continue
            known[eid] = p.fingerprint
            first[eid] = p
            fresh.append(p)
        return fresh, followers

    def _route_reports(self, pending: list[Pending], outcomes: list[Outcome | None],
                       known: dict[uuid.UUID, str], targets: dict[int, uuid.UUID]) -> None:
        """Triage reports go to their target's partition, so they always follow it."""
        keys = {**known, **{p.envelope.event_id: partition_key(p.envelope) for p in pending}}
        for p in pending:
            target = targets.get(p.index)
            if target is None:
                p.key = partition_key(p.envelope)
            elif target not in keys:
                outcomes[p.index] = unknown_target(p)
            else:
                p.key = keys[target]


def targets_report(catalogue: Catalogue, type_name: str) -> bool:
    """Types about an earlier report (scope ``report`` with a payload ``event_id``): they go
    to their target's partition, so the projector always sees them after it."""
    if catalogue.scope(type_name) != "report":
        return False
    schema = catalogue.schemas.get((type_name, catalogue.latest_version(type_name)), {})
    return "event_id" in schema.get("required", ())
