"""Dead letters: log records the projector could not apply, and re-appending them once the
projector is fixed (the ``dead_letters`` rows are written in the batch's transaction)."""
from __future__ import annotations

from typing import Any, Protocol

import asyncpg

from saylau.log.chain import ChainHead, rechain
from saylau.store import paging

REPLAYABLE = """
SELECT kafka_partition AS partition, kafka_offset AS offset, raw FROM dead_letters
WHERE topic = $1 AND status = 'dead' AND ($2 OR (kafka_partition, kafka_offset) IN
  (SELECT * FROM unnest($3::int[], $4::bigint[])))
ORDER BY kafka_partition, kafka_offset FOR UPDATE"""


class Appender(Protocol):
    async def send_and_wait(self, topic: str, value: bytes, *, partition: int,
                            headers: list[tuple[str, bytes]]) -> Any: ...


DEAD_LETTERS = """
SELECT topic, kafka_partition AS partition, kafka_offset AS offset, reason, raw, status
FROM dead_letters
WHERE $2::text IS NULL OR (topic, kafka_partition, kafka_offset) > ($2, $3, $4)
ORDER BY topic, kafka_partition, kafka_offset LIMIT $1
"""


async def dead_letters(conn: asyncpg.Connection, limit: int,
                       after: tuple[Any, ...] | None = None
                       ) -> tuple[list[dict[str, Any]], str | None]:
    """A keyset page of dead letters, with reason and status, in log order (the key, a log
    position, is the table's primary key and never changes)."""
    rows = await conn.fetch(DEAD_LETTERS, limit + 1, *(after or (None, None, None)))
    shown, next_cursor = paging.page("dead_letters", rows, limit, lambda r: [
        r["topic"], r["partition"], r["offset"]])
    return [dict(r) for r in shown], next_cursor


async def replay(conn: asyncpg.Connection, kafka: Appender, topic: str, every: bool,
                 wanted: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Re-append each dead record (all, or those at ``wanted`` positions) to its partition,
    re-chained; then mark it ``replayed``.

    The copy is the record as appended with a new chain link (a fresh chain per partition and
    call, as a new ingest instance would start), so ``verify`` sees a new append, not a repeat
    of the original's link. The projector decodes the copy with its current code; if it is still poison it becomes a
    new dead letter. A copy appended but not marked (Kafka acked, then PostgreSQL failed) is
    harmless: the projector drops a second copy of an event id.
    """
    done: list[dict[str, Any]] = []
    heads: dict[int, ChainHead] = {}
    async with conn.transaction():
        rows = await conn.fetch(REPLAYABLE, topic, every, [p for p, _ in wanted],
                                [o for _, o in wanted])
        for row in rows:
            origin = f"{topic}/{row['partition']}/{row['offset']}"
            head = heads.setdefault(row["partition"], ChainHead())
            meta = await kafka.send_and_wait(topic, rechain(row["raw"].encode(), head),
                                             partition=row["partition"],
                                             headers=[("replay-of", origin.encode())])
            done.append({"partition": row["partition"], "offset": row["offset"],
                         "appended_at": {"partition": meta.partition, "offset": meta.offset}})
        await conn.executemany("UPDATE dead_letters SET status = 'replayed' WHERE topic = $1 "
                               "AND kafka_partition = $2 AND kafka_offset = $3",
                               [(topic, d["partition"], d["offset"]) for d in done])
    return done
