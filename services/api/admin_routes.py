"""Admin: the projector's dead letters, and re-appending them once the projector is fixed."""
from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from saylau.kafka import make_producer
from saylau.web import unavailable
from saylau.web_input import INT4_MAX, INT8_MAX
from services.api.deps import AdminKey, Pool

router = APIRouter(prefix="/v1/admin", tags=["admin"])
REPLAYABLE = """
SELECT kafka_partition AS partition, kafka_offset AS offset, raw FROM dead_letters
WHERE topic = $1 AND status = 'dead' AND ($2 OR (kafka_partition, kafka_offset) IN
  (SELECT * FROM unnest($3::int[], $4::bigint[])))
ORDER BY kafka_partition, kafka_offset FOR UPDATE"""


class DeadLetterRef(BaseModel):
    """One dead letter, by its position in the events topic."""

    partition: int = Field(ge=0, le=INT4_MAX)
    offset: int = Field(ge=0, le=INT8_MAX)


class DeadLetterReplay(BaseModel):
    """Which dead letters to re-append: those listed, or every one still dead."""

    dead_letters: list[DeadLetterRef] = Field(default_factory=list, max_length=10000)
    all: bool = False


async def producer(request: Request) -> AIOKafkaProducer:
    """Kafka is needed only to replay dead letters: connect on first use."""
    state = request.app.state
    async with state.producer_lock:
        if state.producer is None:
            started = make_producer(state.settings)
            try:
                await started.start()
            except KafkaError as exc:
                await started.stop()
                raise HTTPException(503, f"Kafka unavailable: {exc}",
                                    headers={"Retry-After": "5"}) from None
            state.producer = started
    return state.producer  # type: ignore[no-any-return]


Producer = Annotated[AIOKafkaProducer, Depends(producer)]


async def replay(conn: asyncpg.Connection, kafka: AIOKafkaProducer, topic: str,
                 wanted: DeadLetterReplay) -> list[dict[str, Any]]:
    """Re-append each dead record, unchanged, to its partition; then mark it ``replayed``.

    The projector decodes the copy with its current code; if it is still poison it becomes a
    new dead letter. A copy appended but not marked (Kafka acked, then PostgreSQL failed) is
    harmless: the projector drops a second copy of an event id.
    """
    done = []
    async with conn.transaction():
        rows = await conn.fetch(REPLAYABLE, topic, wanted.all,
                                [d.partition for d in wanted.dead_letters],
                                [d.offset for d in wanted.dead_letters])
        for row in rows:
            origin = f"{topic}/{row['partition']}/{row['offset']}"
            meta = await kafka.send_and_wait(topic, row["raw"].encode(), partition=row["partition"],
                                             headers=[("replay-of", origin.encode())])
            done.append({"partition": row["partition"], "offset": row["offset"],
                         "appended_at": {"partition": meta.partition, "offset": meta.offset}})
        await conn.executemany("UPDATE dead_letters SET status = 'replayed' WHERE topic = $1 "
                               "AND kafka_partition = $2 AND kafka_offset = $3",
                               [(topic, d["partition"], d["offset"]) for d in done])
    return done


@router.get("/dead-letters")
async def get_dead_letters(db: Pool, _: AdminKey) -> Any:
    """Log records the projector could not apply, with the reason."""
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT topic, kafka_partition AS partition, kafka_offset "
                                "AS offset, reason, raw, status FROM dead_letters "
                                "ORDER BY topic, kafka_partition, kafka_offset")
    return {"dead_letters": [dict(r) for r in rows]}


@router.post("/dead-letters/replay")
async def replay_dead_letters(body: DeadLetterReplay, db: Pool, kafka: Producer,
                              _: AdminKey, request: Request) -> Any:
    """Re-append dead letters to the events topic, after the projector was fixed."""
    if not body.all and not body.dead_letters:
        raise HTTPException(422, [{"loc": ["body", "dead_letters"],
                                   "msg": "list dead letters, or set all: true"}])
    topic = request.app.state.settings.events_topic
    try:
        async with db.acquire() as conn:
            done = await replay(conn, kafka, topic, body)
    except KafkaError as exc:
        return unavailable(f"Kafka did not acknowledge; nothing marked replayed: {exc}", 5)
    asked = {(d.partition, d.offset) for d in body.dead_letters}
    missing = asked - {(d["partition"], d["offset"]) for d in done}
    return {"replayed": done, "not_replayable": [
        {"partition": p, "offset": o, "msg": "no dead letter there, or already replayed"}
        for p, o in sorted(missing)]}
