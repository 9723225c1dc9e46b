"""``saylau observers``: issue observers' PINs and lift lock-outs.

``issue-pin OBSERVER_ID`` prints a new PIN as its last line; ``issue-pin --all --election
ID`` writes ``observer_id,pin`` for every observer accredited for the election (for the
accreditation cards). A PIN is stored only as an argon2id hash, replaces the previous one,
ends a lock-out and leaves tokens already issued alone. ``unlock OBSERVER_ID`` lifts a
lock-out at once.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

import asyncpg
from tqdm import tqdm

from saylau.cli.status import OK, USAGE, fail
from saylau.readmodels import observers as observer_reads
from saylau.settings import Settings, settings
from saylau.store.migrations import upgrade
from saylau.web.observers import new_pin, pin_hasher, store_pins, unlock


def register(sub: Any) -> None:
    o = sub.add_parser("observers", help="issue observers' PINs, lift lock-outs")
    os_ = o.add_subparsers(dest="action", required=True)
    issue = os_.add_parser("issue-pin", help="a new PIN for one observer (printed last), or "
                           "for all of an election's (CSV observer_id,pin)")
    issue.add_argument("observer_id", nargs="?")
    issue.add_argument("--all", action="store_true",
                       help="every observer accredited for --election")
    issue.add_argument("--election", help="with --all: the election id")
    issue.add_argument("--output", help="with --all: write the CSV here (default: stdout)")
    issue.set_defaults(run=run_issue_pin)
    lift = os_.add_parser("unlock", help="lift an observer's lock-out after wrong PINs")
    lift.add_argument("observer_id")
    lift.set_defaults(run=run_unlock)


async def run_issue_pin(args: argparse.Namespace) -> int:
    if bool(args.observer_id) == bool(args.all) or (args.all and not args.election):
        return fail("observers issue-pin: give OBSERVER_ID, or --all --election ID")
    cfg = settings()
    await upgrade(cfg.dsn, cfg.ingest_schema)
    conn = await asyncpg.connect(cfg.dsn)
    try:
        if args.all:
            return await issue_all(conn, cfg, args.election, args.output)
        return await issue_one(conn, cfg, args.observer_id)
    finally:
        await conn.close()


async def issue_one(conn: asyncpg.Connection, cfg: Settings, observer_id: str) -> int:
    grant = await observer_reads.grant(conn, cfg.read_schema, observer_id)
    if grant is None or grant.revoked is not None:
        why = "has no accreditation on record" if grant is None else (
            f"is no longer accredited ({grant.revoked})")
        return fail(f"observer {observer_id} {why} in READ_SCHEMA {cfg.read_schema!r}; "
                    "no PIN issued", USAGE)
    pin = new_pin()
    await store_pins(conn, cfg.ingest_schema,
                     [(observer_id, await asyncio.to_thread(pin_hasher().hash, pin))])
    print(f"new PIN of observer {observer_id} (stored only as a hash; it replaces her "
          "previous PIN, her signed-in phones stay signed in):")
    print(pin)
    return OK


async def issue_all(conn: asyncpg.Connection, cfg: Settings, election_id: str,
                    output: str | None) -> int:
    ids = await observer_reads.accredited_for(conn, cfg.read_schema, election_id)
    if not ids:
        return fail(f"no observer is accredited for election {election_id!r}")
    pins = {i: new_pin() for i in ids}
    hashes = await asyncio.to_thread(hash_all, pins)
    if output is None:
        await store_pins(conn, cfg.ingest_schema, list(hashes.items()))
        write_csv(sys.stdout, pins)
        return OK
    save_csv(output, pins)  # first: PINs stored but written nowhere would lock everyone out
    try:
        await store_pins(conn, cfg.ingest_schema, list(hashes.items()))
    except BaseException:
        os.unlink(output)  # none of these PINs was stored: the file would only mislead
        raise
    print(f"{len(ids)} PINs of election {election_id} written to {output}", file=sys.stderr)
    return OK


def save_csv(path: str, pins: dict[str, str]) -> None:
    """The CSV in a file only its owner may read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", newline="", encoding="utf-8") as out:
        write_csv(out, pins)


def hash_all(pins: dict[str, str]) -> dict[str, str]:
    """argon2id hashes of every PIN, one thread per core (the hash releases the GIL)."""
    hasher = pin_hasher()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        hashed = list(tqdm(pool.map(hasher.hash, pins.values()), total=len(pins),
                           desc="hashing PINs", unit="PIN", file=sys.stderr))
    return dict(zip(pins, hashed, strict=True))


def write_csv(out: TextIO, pins: dict[str, str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("observer_id", "pin"))
    writer.writerows(pins.items())


async def run_unlock(args: argparse.Namespace) -> int:
    cfg = settings()
    conn = await asyncpg.connect(cfg.dsn)
    try:
        lifted = await unlock(conn, cfg.ingest_schema, args.observer_id)
    finally:
        await conn.close()
    if not lifted:
        return fail(f"observer {args.observer_id} has no PIN")
    print(f"observer {args.observer_id} may sign in again")
    return OK
