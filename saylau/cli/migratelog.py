"""``saylau migrate-log --to BOOTSTRAP``: move a centre's log to another Kafka cluster."""
from __future__ import annotations

import argparse
from typing import Any

import asyncpg

from saylau.cli.status import DIFFERENT, fail
from saylau.intake.ingest_tables import record_log
from saylau.log.identity import LogMismatch, ObservedLog, check_identity
from saylau.log.kafka import chain_hashes_at, ensure_topics, log_facts
from saylau.log.moves import Moved, copy_topic
from saylau.readmodels import tracking
from saylau.settings import Settings, settings
from saylau.store.db import migrate
from saylau.store.migrations import upgrade


def register(sub: Any) -> None:
    p = sub.add_parser("migrate-log", help="copy the events log to another Kafka cluster "
                       "(same partitions, offsets and chain), verify it, and record its topic "
                       "id with the read models and ingest's dedup table; stop ingest first")
    p.add_argument("--to", required=True, metavar="BOOTSTRAP",
                   help="the new cluster's bootstrap servers (host:port,...)")
    p.set_defaults(run=run_migrate_log)


async def run_migrate_log(args: argparse.Namespace) -> int:
    try:
        moved = await move_centre(settings(), args.to)
    except LogMismatch as exc:
        return fail(f"refused: {exc}", DIFFERENT)
    print(f"copied {sum(moved.copied.values())} records of {moved.topic} "
          f"(ends {moved.ends}); topic id {moved.old_id} -> {moved.new_id} recorded; now set "
          f"KAFKA_BOOTSTRAP={args.to} and start the services")
    return 0


async def move_centre(cfg: Settings, dst: str) -> Moved:
    """Copy the events and dead-letter topics to ``dst``, verify, and record the new topic id."""
    src, topic = cfg.kafka_bootstrap, cfg.events_topic
    old_id, old_ends = await log_facts(src, topic)
    await upgrade(cfg.dsn, cfg.ingest_schema)
    conn = await asyncpg.connect(cfg.dsn)
    try:
        await migrate(conn, cfg.read_schema)
        stored = await tracking.stored_identity(conn, cfg.read_schema, topic)
        if stored is not None:  # the read models must come from the log being copied
            chain = await chain_hashes_at(src, topic, dict(stored.next_offsets))
            verdict = check_identity(stored, ObservedLog(old_id, old_ends, chain))
            if not verdict.ok:
                raise LogMismatch(f"the read models do not come from {topic} on {src}: "
                                  f"{verdict.reason}")
        await ensure_topics(cfg.model_copy(update={"kafka_bootstrap": dst}))
        copied, ends = await copy_topic(src, dst, topic)
        await copy_topic(src, dst, cfg.dead_letter_topic)
        new_id, new_ends = await log_facts(dst, topic)
        at = {p: o for p, o in ends.items() if o > 0}
        if new_ends != ends or (await chain_hashes_at(dst, topic, at)
                                != await chain_hashes_at(src, topic, at)):
            raise LogMismatch(f"{topic} on {dst} (ends {new_ends}) is not a copy of {src} "
                              f"(ends {ends}); was ingest still running?")
        async with conn.transaction():
            await tracking.record_topic_id(conn, cfg.read_schema, topic, new_id)
            await tracking.write_status(conn, cfg.read_schema, topic, True, "")
            await record_log(conn, cfg.ingest_schema, topic, new_id)
    finally:
        await conn.close()
    return Moved(topic, old_id, new_id, copied, ends)
