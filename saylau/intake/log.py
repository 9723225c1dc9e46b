"""Appending to the Kafka log: seal each record into its partition's hash chain, send it,
and await the broker's acknowledgement (never claim an event accepted before it)."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from saylau.chain import ChainHead
from saylau.intake.outcome import Outcome, Pending
from saylau.kafka import partition_for

log = logging.getLogger("saylau.ingest")
ACK_TIMEOUT_SECONDS = 10.0
"""How long a request waits for the broker's acknowledgement before answering 503."""


class Producer(Protocol):
    async def send(self, topic: str, value: bytes, *, key: bytes,
                   partition: int) -> asyncio.Future[Any]: ...


class ChainedLog:
    """The events topic as ingest writes it: one hash chain per partition per process."""

    def __init__(self, producer: Producer, topic: str, partitions: int) -> None:
        self.producer, self.topic, self.partitions = producer, topic, partitions
        self.heads: dict[int, ChainHead] = {}
        self.locks: dict[int, asyncio.Lock] = {}

    async def append(self, pending: list[Pending], outcomes: list[Outcome | None],
                     now: datetime, deadline: float | None = None) -> list[tuple[Pending, Any]]:
        """Send every pending item, then await the acknowledgements together until
        ``deadline`` (event-loop time; default: ACK_TIMEOUT_SECONDS from now); fill each
        outcome (202 or 503); the acknowledged ones."""
        sent = [(p, await self._send(p, now)) for p in pending]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACK_TIMEOUT_SECONDS if deadline is None else deadline
        for _, future in sent:  # aiokafka acknowledges a whole batch at once, so this waits
            if not future.done():  # about once per partition (asyncio.wait costs per future)
                await asyncio.wait((future,), timeout=max(deadline - loop.time(), 0))
        accepted = []
        for p, future in sent:
            exc = future.exception() if future.done() else TimeoutError("no acknowledgement")
            if exc is not None:  # not acknowledged: never claim it accepted
                log.warning("broker did not acknowledge %s: %s", p.envelope.event_id, exc)
                self.heads.pop(partition_for(p.key, self.partitions), None)
                outcomes[p.index] = Outcome(503, "unavailable", str(p.envelope.event_id))
                continue
            meta = future.result()
            outcomes[p.index] = Outcome(202, "accepted", str(p.envelope.event_id),
                                        partition=meta.partition, offset=meta.offset,
                                        warnings=p.warnings)
            accepted.append((p, meta))
        return accepted

    async def _send(self, p: Pending, now: datetime) -> asyncio.Future[Any]:
        partition = partition_for(p.key, self.partitions)
        record = {**p.wire, "received_at": now.isoformat(), "partner": p.partner,
                  "content_hash": p.digest}
        async with self.locks.setdefault(partition, asyncio.Lock()):
            head = self.heads.get(partition)
            if head is None:  # a new head draws a chain id: only when there is none
                head = self.heads[partition] = ChainHead()
            value = head.sealed_bytes(record)
            try:
                return await self.producer.send(self.topic, value,
                                                key=p.key.encode(), partition=partition)
            except Exception as exc:  # noqa: BLE001 - whatever failed, nothing was sent
                self.heads.pop(partition, None)
                failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                return failed
