"""``saylau migrate-log --to BOOTSTRAP``: move a centre's log to another Kafka cluster."""
from __future__ import annotations

import argparse
from typing import Any

from saylau.logidentity import LogMismatch
from saylau.logmove import move_centre
from saylau.settings import settings


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
        print(f"refused: {exc}")
        return 1
    print(f"copied {sum(moved.copied.values())} records of {moved.topic} "
          f"(ends {moved.ends}); topic id {moved.old_id} -> {moved.new_id} recorded; now set "
          f"KAFKA_BOOTSTRAP={args.to} and start the services")
    return 0
