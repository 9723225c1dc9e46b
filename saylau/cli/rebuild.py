"""``saylau rebuild``: replay the log into a new read-model schema while the old one keeps
serving, catch up to the live end, switch atomically; the old schema is kept."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import asyncpg

from saylau.audit.rebuild import rebuild
from saylau.audit.replay import RefusedSchema
from saylau.cli.audit import Progress
from saylau.cli.status import fail
from saylau.settings import settings
from saylau.store.migrations import SchemaTooNew, upgrade
from saylau.store.readsets import read_model_version, serving_version


def register(sub: Any) -> None:
    p = sub.add_parser(
        "rebuild", help="rebuild the read models from the log and switch to them atomically",
        description="Replay the whole log through this release's projection code into a new "
                    "schema while the current one keeps serving, catch up to the live end, "
                    "then rename schemas in one transaction (READ_SCHEMA becomes the new one; "
                    "the old one is kept as <READ_SCHEMA>_retired_<time> until you drop it). "
                    "Restart projectors with this release afterwards.")
    p.add_argument("--batch", type=int, default=5000, help="records per transaction")
    p.add_argument("--processes", type=int, default=1,
                   help="processes sharing the log's partitions in the replay (default 1: "
                        "a running centre keeps its other cores)")
    p.add_argument("--if-needed", action="store_true",
                   help="do nothing when the serving read models are already this version")
    p.set_defaults(run=run_rebuild)


async def run_rebuild(args: argparse.Namespace) -> int:
    cfg = settings()
    if args.processes < 1:
        return fail("--processes must be at least 1")
    version = read_model_version(cfg.projection_version)
    try:
        await upgrade(cfg.dsn, cfg.ingest_schema)
    except SchemaTooNew as exc:
        return fail(str(exc))
    conn = await asyncpg.connect(cfg.dsn, command_timeout=None)
    bar: list[Progress] = []
    try:
        serving = await serving_version(conn, cfg.ingest_schema, cfg.read_schema)
        if args.if_needed and serving == version:
            print(f"read models in {cfg.read_schema} are already version {version}")
            return 0
        print(f"rebuilding {cfg.read_schema} (version {serving or 'unrecorded'}) as version "
              f"{version}; the current schema keeps serving", file=sys.stderr)
        done = await rebuild(conn, cfg, version, args.batch, lambda n: bar[0](n),
                             lambda total: bar.append(Progress("rebuild", total)),
                             args.processes)
    except (RefusedSchema, LookupError) as exc:
        return fail(str(exc))
    finally:
        for b in bar:
            b.close()
        await conn.close()
    print(f"switched {done.schema} to version {done.version}: replayed {done.replayed:,} "
          f"records, then {done.caught_up:,} to catch up, in {done.seconds:.1f} s")
    print(f"the previous read models are kept as schema {done.retired}; drop them when no "
          f"longer needed: DROP SCHEMA \"{done.retired}\" CASCADE")
    return 0
