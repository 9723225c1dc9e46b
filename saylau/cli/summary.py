"""``saylau audit``: replay + compare + verify at one log position, and a summary an auditor
can sign (``saylau.audit.summary``)."""
from __future__ import annotations

import argparse
import hashlib
from datetime import UTC, datetime
from typing import Any

import asyncpg

from saylau.audit.compare import MissingSchema
from saylau.audit.replay import RefusedSchema
from saylau.audit.snapshot import LiveBehind
from saylau.audit.summary import passed, replay_and_compare, summary, verify_up_to
from saylau.cli.status import DIFFERENT, OK, fail
from saylau.settings import settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit", help="replay + compare + verify at one log position; print a signable summary",
        description=(__doc__ or "").splitlines()[0])
    p.add_argument("--topic", default=None, help="events topic (default: EVENTS_TOPIC)")
    p.add_argument("--live", default=None, help="live schema (default: READ_SCHEMA)")
    p.add_argument("--schema", default=None,
                   help="replay schema (default: replay_audit_<yyyymmddhhmmss>)")
    p.add_argument("--keep", action="store_true", help="keep the replay schema afterwards")
    p.add_argument("--batch", type=int, default=5000, help="records per replay transaction")
    p.set_defaults(run=run_audit)


async def run_audit(args: argparse.Namespace) -> int:
    cfg = settings()
    topic, live = args.topic or cfg.events_topic, args.live or cfg.read_schema
    schema = args.schema or f"replay_audit_{datetime.now(UTC):%Y%m%d%H%M%S}"
    started = datetime.now(UTC)
    conn = await asyncpg.connect(cfg.dsn, command_timeout=None)
    try:
        snapshot = await replay_and_compare(conn, cfg, topic, live, schema, args.batch)
        if not args.keep:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except (RefusedSchema, MissingSchema, LiveBehind, LookupError, ValueError) as exc:
        return fail(str(exc))
    finally:
        await conn.close()
    audit = await verify_up_to(cfg, topic, snapshot.position)
    lines = summary(topic, live, started, snapshot, audit)
    text = "\n".join(lines) + "\n"
    print(text + f"summary sha256: {hashlib.sha256(text.encode()).hexdigest()}")
    return OK if passed(snapshot, audit) else DIFFERENT
