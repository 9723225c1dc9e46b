"""Group commit: the requests that arrive while one flush is in flight go together in the next.

Under load, one dedup query, one produce batch (acknowledged together) and one insert serve
every request of a group, instead of one of each per request; an idle service flushes a lone
request at once (no timer, no added latency). Up to ``concurrency`` flushes run at once
(the next group's lookup overlaps the previous group's acknowledgements), but a further one
starts only once ``spill`` items wait: under a moderate load the requests that arrive during
a flush wait for it and go together in the next (fewer, larger groups: less CPU per request
on a machine the whole stack shares), and only a load one flush at a time cannot keep up
with overlaps them. The flush function orders groups that share an id (``Intake`` does, so
one id is accepted once).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Hands queued items to ``flush`` in groups of at most ``max_items`` (counted by
    ``size``); ``flush`` returns one result per item, in order. If it raises, every item of
    that group gets the exception. A flush beyond the first starts when ``spill`` items (by
    ``size``) wait."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[list[R]]],
                 size: Callable[[T], int] = lambda _: 1, max_items: int = 5000,
                 concurrency: int = 1, spill: int = 1) -> None:
        self.flush, self.size, self.max_items = flush, size, max_items
        self.concurrency, self.spill = concurrency, spill
        self.queue: list[tuple[T, asyncio.Future[R]]] = []
        self.flushers: set[asyncio.Task[None]] = set()
        """The running flushes (each leaves the set as it finds the queue empty)."""
        self.groups = 0
        """How many flushes ran (for tests and metrics)."""

    async def submit(self, item: T) -> R:
        """``item``'s result, once the group it joined is flushed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if not self.flushers or (len(self.flushers) < self.concurrency and self._waiting()):
            flusher = asyncio.create_task(self._drain())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)  # cancelled before it ran
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_queue()
        finally:  # at once, not a loop turn later: a request queued next must start a flush
            self.flushers.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _drain_queue(self) -> None:
        while self.queue:
            group = self._take()
            self.groups += 1
            try:
                results = await self.flush([item for item, _ in group])
            except Exception as exc:  # noqa: BLE001 - each waiting request answers it
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutdown): nobody waits forever
                for _, future in group + self.queue:
                    future.cancel()
                raise
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():  # its request may have gone away meanwhile
                    future.set_result(result)

    def _waiting(self) -> bool:
        """Whether ``spill`` items wait (counted up to there)."""
        count = 0
        for item, _ in self.queue:
            count += self.size(item)
            if count >= self.spill:
                return True
        return False

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        """The oldest queued items, up to ``max_items`` (always at least one)."""
        taken, count = 0, 0
        for item, _ in self.queue:
            count += self.size(item)
            if taken and count > self.max_items:
                break
            taken += 1
        group, self.queue = self.queue[:taken], self.queue[taken:]
        return group

    async def close(self) -> None:
        """Stop flushing (pending requests get CancelledError)."""
        for flusher in list(self.flushers):
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
