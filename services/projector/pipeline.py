"""The projector's pipeline: decode the next batches while the current transaction runs.

The agent hands each batch it takes to the decoder and goes back to faust for the next one;
the applier writes, in order and in ONE transaction, every batch decoded while the previous
transaction ran (up to ``max_events`` records). So the transactions grow with the backlog:
under load a few large transactions instead of many small ones, each paying the same round
trips, and an event waits for at most the transaction before its own. A batch's records
are acknowledged to faust (so their Kafka offsets may be committed) only once its
transaction committed: the agent holds an extra reference on every message until then, so
a crash anywhere re-reads what was not applied, and the offsets stored in PostgreSQL drop
what was. Decoding runs in slices on the event loop, so it fills the time the applier
spends waiting for PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from saylau.log.decode import Message
from saylau.readmodels.transaction import Decodings
from services.projector.stopping import BUG, StopWorker

log = logging.getLogger("saylau.projector")
SLICE = 100
"""Records decoded between two yields to the event loop."""
MAX_EVENTS = 8000
"""Records applied in one transaction at most (batches are merged up to this)."""

Decode = Callable[[Sequence[Message]], Decodings]
Apply = Callable[[list[Message], Decodings], Awaitable[None]]
Ack = Callable[[Any], Awaitable[Any]]


class Pipeline:
    """Two stages: one batch waits to be decoded, and up to ``depth`` decoded batches wait
    for the applier, which takes them all (to ``max_events`` records) in one transaction."""

    def __init__(self, decode: Decode, apply: Apply, ack: Ack, depth: int = 8,
                 max_events: int = MAX_EVENTS) -> None:
        self.decode, self.apply, self.ack = decode, apply, ack
        self.max_events = max_events
        self.to_decode: asyncio.Queue[Sequence[Any]] = asyncio.Queue(maxsize=1)
        self.to_apply: asyncio.Queue[tuple[Sequence[Any], list[Message], Decodings]] = (
            asyncio.Queue(maxsize=depth))
        self.tasks = [asyncio.create_task(self._stage(self._decoder)),
                      asyncio.create_task(self._stage(self._applier))]

    async def put(self, events: Sequence[Any]) -> None:
        """Queue faust ``events``; each must hold one extra reference (``incref``), which
        is released once the batch is applied."""
        await self.to_decode.put(events)

    async def stop(self) -> None:
        """Stop both stages; queued batches stay unacknowledged, so they are read again."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _decoder(self) -> None:
        while True:
            events = await self.to_decode.get()
            batch = [Message(e.message.partition, e.message.offset, e.message.value)
                     for e in events]
            decoded: Decodings = {}
            for i in range(0, len(batch), SLICE):
                decoded.update(self.decode(batch[i:i + SLICE]))
                await asyncio.sleep(0)  # let the applier's SQL round trips proceed
            await self.to_apply.put((events, batch, decoded))
            self.to_decode.task_done()

    async def _applier(self) -> None:
        while True:
            waiting = [await self.to_apply.get()]
            size = len(waiting[0][1])
            while not self.to_apply.empty() and size < self.max_events:
                waiting.append(self.to_apply.get_nowait())
                size += len(waiting[-1][1])
            if len(waiting) == 1:
                events, batch, decoded = waiting[0]
            else:
                events = [e for w in waiting for e in w[0]]
                batch = [m for w in waiting for m in w[1]]
                decoded = {k: v for w in waiting for k, v in w[2].items()}
            await self.apply(batch, decoded)
            for event in events:
                await self.ack(event)
            for _ in waiting:
                self.to_apply.task_done()

    @staticmethod
    async def _stage(run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: stop before faust acknowledges anything unapplied
            log.exception("projector pipeline failed; exiting without acknowledging")
            raise StopWorker(BUG, f"projector pipeline failed: {exc!r}") from exc
