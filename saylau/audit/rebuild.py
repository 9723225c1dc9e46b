"""``saylau rebuild``: read models are rebuilt, not migrated.

When a release changes a projection (``PROJECTION_VERSION``, or the read-model DDL), the log
is replayed into a new schema while the old one keeps serving; the new schema is brought up
close to the live end, then, in ONE transaction, exactly to the live projector's stored
offsets and swapped in by renaming schemas: ``live`` → ``live_retired_<time>``, the new one
→ ``live``. The api (its search path names ``live``) answers from the new schema from the
next statement on; the old one is kept until the operator drops it.

The switch transaction first locks the serving row of ``read_model_sets``, which every
projector batch holds shared (``hold_serving``): so no batch is half-way when the offsets are
read, and a projector of another version stops at its next batch (restart it with the new
release).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from saylau.audit.logsource import KafkaLog
from saylau.audit.replay import prepare_schema, replay, replay_projection
from saylau.audit.shares import replay_shares, split
from saylau.audit.snapshot import catch_up
from saylau.readmodels.tracking import stored_positions
from saylau.settings import Settings
from saylau.store.readsets import BUILDING, RETIRED, SERVING, adopt

UNKNOWN = "unknown"
"""The version recorded for read models a release without sets built."""
NEAR = 2000
"""Records the new schema may trail the live one by before the switch transaction."""


class ReadModelsRebuilt(RuntimeError):
    """The serving read models are of another version than this projector's."""


@dataclass
class Rebuilt:
    schema: str
    retired: str
    version: str
    replayed: int
    caught_up: int
    seconds: float


async def hold_serving(conn: asyncpg.Connection, cfg: Settings, version: str) -> None:
    """Inside a projector batch transaction: hold the serving set shared (the switch waits for
    the batch) and refuse to write read models of another version."""
    serving = await conn.fetchval(
        f'SELECT version FROM "{cfg.ingest_schema}".read_model_sets WHERE read_schema = $1 '
        "AND state = $2 FOR SHARE", cfg.read_schema, SERVING)
    if serving != version:
        raise ReadModelsRebuilt(
            f"the read models in {cfg.read_schema!r} are version {serving or 'unrecorded'}, "
            f"this projector projects {version}: restart it with the matching release")


async def rebuild(conn: asyncpg.Connection, cfg: Settings, version: str, batch: int,
                  on_progress: Callable[[int], None], total: Callable[[int], None],
                  processes: int = 1) -> Rebuilt:
    """Replay into a new schema (its partitions shared by ``processes``), catch up, switch
    (see the module doc)."""
    live, started = cfg.read_schema, time.monotonic()
    stamp = f"{datetime.now(UTC):%Y%m%d%H%M%S}"
    target, retired = f"{live}_build_{stamp}", f"{live}_retired_{stamp}"
    await adopt(conn, cfg.ingest_schema, live, UNKNOWN)
    await prepare_schema(conn, target, cfg, force=False)
    await conn.execute(f'INSERT INTO "{cfg.ingest_schema}".read_model_sets (schema_name, '
                       "read_schema, version, state) VALUES ($1, $2, $3, $4)",
                       target, live, version, BUILDING)
    async with KafkaLog(cfg.kafka_bootstrap, cfg.events_topic) as log:
        total(log.total)
        if processes > 1:
            stats = await replay_shares(split(log, target, min(processes, len(log.extents)),
                                              batch, 1, None, "round-robin", None),
                                        log.position, on_progress)
        else:
            stats = await replay(conn, log, replay_projection(target, log.topic, cfg), batch,
                                 on_progress=on_progress)
    reached, caught = stats.position, 0
    while True:  # close the gap while live keeps moving, outside the switch transaction
        position = (await stored_positions(conn, live, cfg.events_topic)).get(
            cfg.events_topic, {})
        gap = sum(max(o - reached.get(p, 0), 0) for p, o in position.items())
        if gap <= NEAR:
            break
        caught += await catch_up(conn, target, cfg.events_topic, reached, position, cfg)
        reached = {**reached, **position}
    caught += await switch(conn, cfg, target, retired, reached)
    return Rebuilt(live, retired, version, stats.read, caught, time.monotonic() - started)


async def switch(conn: asyncpg.Connection, cfg: Settings, target: str, retired: str,
                 reached: dict[int, int]) -> int:
    """In one transaction: wait for in-flight batches, bring ``target`` to the live offsets,
    carry the change-feed cursor over, and swap the schemas by renaming."""
    live, sets = cfg.read_schema, f'"{cfg.ingest_schema}".read_model_sets'
    async with conn.transaction():
        await conn.execute(f"SELECT 1 FROM {sets} WHERE read_schema = $1 AND state = $2 "
                           "FOR UPDATE", live, SERVING)
        position = (await stored_positions(conn, live, cfg.events_topic)).get(
            cfg.events_topic, {})
        caught = await catch_up(conn, target, cfg.events_topic, reached, position, cfg)
        await conn.execute(f'UPDATE "{target}".change_cursor SET value = '
                           f'(SELECT max(value) FROM "{live}".change_cursor)')
        await conn.execute(f'ALTER SCHEMA "{live}" RENAME TO "{retired}"')
        await conn.execute(f'ALTER SCHEMA "{target}" RENAME TO "{live}"')
        await conn.execute(f"UPDATE {sets} SET schema_name = $1, state = $2 WHERE "
                           "read_schema = $3 AND state = $4", retired, RETIRED, live, SERVING)
        await conn.execute(f"UPDATE {sets} SET schema_name = $1, state = $2, switched_at = "
                           "now() WHERE schema_name = $3", live, SERVING, target)
    return caught
