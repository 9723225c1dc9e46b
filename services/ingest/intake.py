"""Appending accepted reports to the log: dedup by id, chain, produce, await the broker's ack."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from saylau.catalogue import Catalogue, FieldError
from saylau.chain import ChainHead
from saylau.checkpoint import EVENT_TYPE as CHECKPOINT_TYPE
from saylau.decode import compiled
from saylau.envelope import Envelope, canonical, content_hash, partition_key
from saylau.kafka import partition_for
from saylau.projection import OPERATOR_TYPES
from services.ingest.validation import validate_item

log = logging.getLogger("saylau.ingest")
ACK_TIMEOUT_SECONDS = 10.0
"""How long a request waits for the broker's acknowledgement before answering 503."""
INGEST_ONLY = frozenset({"ingest"})


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
    index: int
    envelope: Envelope
    wire: dict[str, Any]
    digest: str
    key: str = ""
    warnings: list[str] = field(default_factory=list)


class Intake:
    """The append path shared by the JSON API and the other intake channels."""

    def __init__(self, producer: AIOKafkaProducer, pool: asyncpg.Pool, catalogue: Catalogue,
                 topic: str, partitions: int) -> None:
        self.producer, self.pool, self.catalogue = producer, pool, compiled(catalogue)
        self.topic, self.partitions = topic, partitions
        self.heads: dict[int, ChainHead] = {}
        self.locks: dict[int, asyncio.Lock] = {}

    async def submit(self, items: list[Any], partner: str,
                     scopes: frozenset[str] = INGEST_ONLY) -> list[Outcome]:
        """Validate, dedup and append ``items``; one outcome per item, in order.

        Operator types (verify, reject, claim, escalate, comment) need the ``triage`` scope.
        """
        now = datetime.now(UTC)
        outcomes: list[Outcome | None] = [None] * len(items)
        pending: list[Pending] = []
        for i, item in enumerate(items):
            checked = validate_item(item, self.catalogue, now)
            if isinstance(checked, list):
                outcomes[i] = Outcome(422, "rejected", _id_of(item), checked)
            elif checked.type == CHECKPOINT_TYPE and "admin" not in scopes:
                outcomes[i] = Outcome(403, "forbidden", str(checked.event_id), [FieldError(
                    ("type",), f"{checked.type} is written by 'saylau checkpoint' (admin)")])
            elif checked.type in OPERATOR_TYPES and "triage" not in scopes:
                outcomes[i] = Outcome(403, "forbidden", str(checked.event_id), [FieldError(
                    ("type",), f"{checked.type} needs a key with the triage scope")])
            else:
                wire = checked.wire()
                pending.append(Pending(i, checked, wire, content_hash(wire)))
        pending = await self._dedup(pending, outcomes)
        await self._route_reports(pending, outcomes)
        pending = [p for p in pending if outcomes[p.index] is None]
        await self._warn_unknown_stations(pending)
        await self._append(pending, outcomes, partner, now)
        return [o for o in outcomes if o is not None]

    async def _warn_unknown_stations(self, pending: list[Pending]) -> None:
        """Reports naming a station not in the registry are accepted, with a warning.

        Ingest keeps the ids of the stations it appended ``station.registered`` for (its own
        ``known_stations`` table, written with the dedup ids), so a station registered a
        moment ago is known at once, without waiting for the projector.
        """
        named = {p.envelope.station_id for p in pending if p.envelope.station_id}
        rows = await self.pool.fetch("SELECT station_id FROM known_stations "
                                     "WHERE station_id = ANY($1::text[])", sorted(named))
        known = {r["station_id"] for r in rows}
        for p in pending:
            station = p.envelope.station_id
            if p.envelope.type == "station.registered" and station:
                known.add(station)
            elif station and station not in known:
                p.warnings.append(f"station {station!r} is not in the station registry; "
                                  "check the id (the report was accepted)")

    async def _dedup(self, pending: list[Pending], outcomes: list[Outcome | None]) -> list[Pending]:
        """Known ids: same content → duplicate (200), other content → conflict (409)."""
        rows = await self.pool.fetch(
            "SELECT event_id, content_hash FROM accepted_events "
            "WHERE event_id = ANY($1::uuid[])", [p.envelope.event_id for p in pending])
        known = {r["event_id"]: r["content_hash"] for r in rows}
        fresh = []
        for p in pending:
            eid = p.envelope.event_id
            if eid in known:
                same = known[eid] == p.digest
                outcomes[p.index] = (Outcome(200, "duplicate", str(eid)) if same else Outcome(
                    409, "conflict", str(eid),
                    [FieldError(("event_id",), "already accepted with different content")]))
                continue
            known[eid] = p.digest
            fresh.append(p)
        return fresh

    async def _route_reports(self, pending: list[Pending],
                             outcomes: list[Outcome | None]) -> None:
        """Triage reports go to their target's partition, so they always follow it."""
        targets = [uuid.UUID(str(p.envelope.payload["event_id"])) for p in pending
                   if targets_report(self.catalogue, p.envelope.type)]
        rows = await self.pool.fetch("SELECT event_id, kafka_key FROM accepted_events "
                                     "WHERE event_id = ANY($1::uuid[])", targets)
        keys = {r["event_id"]: r["kafka_key"] for r in rows}
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

    async def _append(self, pending: list[Pending], outcomes: list[Outcome | None],
                      partner: str, now: datetime) -> None:
        sent = [(p, await self._send(p, partner, now)) for p in pending]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACK_TIMEOUT_SECONDS
        accepted = []
        for p, future in sent:
            try:  # aiokafka never fails a batch whose leader is known but unreachable
                meta = await asyncio.wait_for(asyncio.shield(future),
                                              max(deadline - loop.time(), 0.01))
            except Exception as exc:  # noqa: BLE001 - not acknowledged: never claim it accepted
                log.warning("broker did not acknowledge %s: %s", p.envelope.event_id, exc)
                self.heads.pop(partition_for(p.key, self.partitions), None)
                outcomes[p.index] = Outcome(503, "unavailable", str(p.envelope.event_id))
                continue
            outcomes[p.index] = Outcome(202, "accepted", str(p.envelope.event_id),
                                        partition=meta.partition, offset=meta.offset,
                                        warnings=p.warnings)
            accepted.append((p, meta))
        await self._remember(accepted, partner, now)

    async def _send(self, p: Pending, partner: str, now: datetime) -> asyncio.Future[Any]:
        partition = partition_for(p.key, self.partitions)
        record = {**p.wire, "received_at": now.isoformat(), "partner": partner,
                  "content_hash": p.digest}
        async with self.locks.setdefault(partition, asyncio.Lock()):
            self.heads.setdefault(partition, ChainHead()).seal(record)
            try:
                return await self.producer.send(self.topic, canonical(record),
                                                key=p.key.encode(), partition=partition)
            except Exception as exc:  # noqa: BLE001 - whatever failed, nothing was sent
                self.heads.pop(partition, None)
                failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                return failed

    async def _remember(self, accepted: list[tuple[Pending, Any]], partner: str,
                        now: datetime) -> None:
        """Record acknowledged ids for duplicate detection (the projector dedups too)."""
        if not accepted:
            return
        try:
            await self.pool.execute(
                "INSERT INTO accepted_events (event_id, content_hash, kafka_key, "
                "kafka_partition, kafka_offset, partner, received_at) SELECT * FROM unnest("
                "$1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], "
                "$7::timestamptz[]) ON CONFLICT DO NOTHING",
                [p.envelope.event_id for p, _ in accepted], [p.digest for p, _ in accepted],
                [p.key for p, _ in accepted], [m.partition for _, m in accepted],
                [m.offset for _, m in accepted], [partner] * len(accepted),
                [now] * len(accepted))
            registered = sorted({p.envelope.station_id for p, _ in accepted
                                 if p.envelope.type == "station.registered"
                                 and p.envelope.station_id})
            await self.pool.execute(
                "INSERT INTO known_stations (station_id, registered_at) SELECT s, $2 "
                "FROM unnest($1::text[]) AS s ON CONFLICT DO NOTHING", registered, now)
        except (asyncpg.PostgresError, OSError) as exc:
            log.error("acknowledged events not remembered for dedup: %s", exc)


def targets_report(catalogue: Catalogue, type_name: str) -> bool:
    """Types about an earlier report (scope ``report`` with a payload ``event_id``): they go
    to their target's partition, so the projector always sees them after it."""
    if catalogue.scope(type_name) != "report":
        return False
    schema = catalogue.schemas.get((type_name, catalogue.latest_version(type_name)), {})
    return "event_id" in schema.get("required", ())


def _id_of(item: Any) -> str | None:
    return str(item.get("event_id")) if isinstance(item, dict) and "event_id" in item else None
