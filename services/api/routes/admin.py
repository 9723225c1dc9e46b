"""Admin: the projector's dead letters, and re-appending them once the projector is fixed."""
from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Query
from pydantic import ConfigDict, Field

from saylau.log import deadletters
from saylau.store import paging
from saylau.store.paging import MAX_PAGE
from saylau.web.input import Int4, Int8, RequestBody
from saylau.web.service import unavailable
from services.api.deps import AdminDep, CursorQuery, PoolDep, ProducerDep, SettingsDep, after

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class DeadLetterRef(RequestBody):
    """One dead letter, by its position in the events topic."""

    partition: Int4
    offset: Int8


class DeadLetterReplay(RequestBody):
    """Which dead letters to re-append: those listed, or every one still dead."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"dead_letters": [{"partition": 0, "offset": 42}]}, {"all": True}],
        "anyOf": [{"required": ["all"], "properties": {"all": {"const": True}}},
                  {"required": ["dead_letters"], "properties": {"dead_letters": {
                      "type": "array", "minItems": 1, "maxItems": 10000,
                      "items": {"$ref": "#/components/schemas/DeadLetterRef"}}}}]})

    dead_letters: list[DeadLetterRef] = Field(default_factory=list, max_length=10000)
    all: bool = False


@router.get("/dead-letters")
async def get_dead_letters(db: PoolDep, _: AdminDep,
                           limit: int = Query(MAX_PAGE, ge=1, le=MAX_PAGE),
                           cursor: CursorQuery = None) -> Any:
    """Log records the projector could not apply, with the reason (keyset pages)."""
    key = after("dead_letters", cursor, (paging.text, paging.integer, paging.integer))
    async with db.acquire() as conn:
        found, next_cursor = await deadletters.dead_letters(conn, limit, key)
    return {"dead_letters": found, "next": next_cursor}


@router.post("/dead-letters/replay")
async def replay_dead_letters(body: DeadLetterReplay, db: PoolDep, kafka: ProducerDep,
                              _: AdminDep, cfg: SettingsDep) -> Any:
    """Re-append dead letters to the events topic, after the projector was fixed."""
    if not body.all and not body.dead_letters:
        raise HTTPException(422, [{"loc": ["body", "dead_letters"],
                                   "msg": "list dead letters, or set all: true",
                                   "type": "value_error"}])
    asked = [(d.partition, d.offset) for d in body.dead_letters]
    try:
        async with db.acquire() as conn:
            done = await deadletters.replay(conn, kafka, cfg.events_topic, body.all, asked)
    except KafkaError as exc:
        return unavailable(f"Kafka did not acknowledge; nothing marked replayed: {exc}", 5)
    missing = set(asked) - {(d["partition"], d["offset"]) for d in done}
    return {"replayed": done, "not_replayable": [
        {"partition": p, "offset": o, "msg": "no dead letter there, or already replayed"}
        for p, o in sorted(missing)]}
