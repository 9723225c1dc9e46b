"""Watching the log under a running service: is the events topic still the one verified?

A topic deleted and recreated under running services (an operator's mistake, a restore)
triggers no partition assignment and no seek: a running consumer is silently reset to the new
topic's start, a running producer keeps writing on its old chain heads. So ingest and the
projector compare the topic's id every ``LOG_WATCH_SECONDS`` with the id they verified at
start, and the api compares it with the id the read models recorded; on a difference they
refuse (503 naming it) instead of answering for a log they cannot vouch for.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from saylau.log.kafka import TopicNotReady, describe_topic

log = logging.getLogger("saylau.log")


def recreated(topic: str, verified_id: str | None, current_id: str | None,
              who: str) -> str | None:
    """Why the log is not the one ``who`` verified (``verified_id``), or None. Pure: an id
    not known on either side (not verified yet, no broker answered) is no verdict."""
    if verified_id is None or current_id is None or current_id == verified_id:
        return None
    return (f"{topic} topic was recreated under the running {who}: its id is now "
            f"{current_id}, not {verified_id} as verified; nothing more is accepted or "
            "applied for this log: replay into a fresh schema with `saylau replay` and start "
            "ingest on a fresh INGEST_SCHEMA, or restore the old topic")


async def current_topic_id(bootstrap: str, topic: str, timeout: float = 5.0) -> str | None:
    """The topic's id now; None when no broker answers or the topic is missing (between a
    delete and a re-create: no verdict yet)."""
    try:
        return (await describe_topic(bootstrap, topic, timeout=timeout, settle=0)).topic_id
    except (TopicNotReady, ConnectionError, OSError, TimeoutError) as exc:
        log.info("log watch: the id of %s is unknown (%s)", topic, exc)
        return None


class LogWatch:
    """The id one service verified, and its first refusal once the topic's id differs.

    ``verified``: how to learn the verified id when it is not fixed at start (the api reads
    the id the read models recorded, which a rebuild or a first batch may set later)."""

    def __init__(self, bootstrap: str, topic: str, who: str, verified_id: str | None = None,
                 verified: Callable[[], Awaitable[str | None]] | None = None) -> None:
        self.bootstrap, self.topic, self.who = bootstrap, topic, who
        self.verified_id, self.verified = verified_id, verified
        self.refusal: str | None = None

    async def check(self) -> str | None:
        """Compare the topic's id now with the verified one; the refusal (kept once found)."""
        if self.refusal is None:
            if self.verified is not None:
                self.verified_id = await self.verified()
            current = await current_topic_id(self.bootstrap, self.topic)
            self.refusal = recreated(self.topic, self.verified_id, current, self.who)
            if self.refusal is not None:
                log.error("%s refuses the log: %s", self.who, self.refusal)
        return self.refusal

    async def run(self, every: float) -> None:
        """``check`` every ``every`` seconds until cancelled (a failed check is retried)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.check()
            except Exception:
                log.warning("log watch: check failed; retrying", exc_info=True)
