"""Personal-data commands: the master key (make a dev key file, check, rotate) and
``saylau erase``."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import asyncpg

from saylau.bootstrap import migrate_ingest
from saylau.cli.status import DIFFERENT, Refused, fail
from saylau.privacy.keys import MasterKeyError, load_master_key, write_key_file
from saylau.privacy.store import key_store
from saylau.settings import settings
from saylau.web.keys import KeyRing, Principal

DEV_KEY_FILE = "var/master.key"


def register(sub: Any) -> None:
    m = sub.add_parser("master-key", help="the master key that wraps personal-data keys")
    ms = m.add_subparsers(dest="action", required=True)
    init = ms.add_parser("init", help="write a new key file (0600) unless one exists")
    init.add_argument("--file", default=None,
                      help=f"default: SAYLAU_MASTER_KEY_FILE or {DEV_KEY_FILE}")
    init.set_defaults(run=run_init)
    check = ms.add_parser("check", help="exit 1 unless the configured key opens the stored keys")
    check.set_defaults(run=run_check)
    rotate = ms.add_parser("rotate", help="re-wrap every data key under a new master key")
    rotate.add_argument("--new-file", required=True, help="key file of the new master key")
    rotate.set_defaults(run=run_rotate)


async def run_init(args: argparse.Namespace) -> int:
    path = Path(args.file or settings().saylau_master_key_file or DEV_KEY_FILE)
    print(f"{'wrote' if write_key_file(path) else 'kept existing'} master key file {path}")
    return 0


async def run_check(args: argparse.Namespace) -> int:
    await migrate_ingest(settings())
    async with asyncpg.create_pool(settings().dsn, min_size=1, max_size=2) as pool:
        try:
            store = await key_store(pool, settings())
        except MasterKeyError as exc:
            return fail(f"master key: {exc}", DIFFERENT)
    print(f"master key {store.wrapper.key_id} opens the stored personal-data keys")
    return 0


async def run_rotate(args: argparse.Namespace) -> int:
    try:
        new = load_master_key(file=args.new_file)
        await migrate_ingest(settings())
        async with asyncpg.create_pool(settings().dsn, min_size=1, max_size=2) as pool:
            store = await key_store(pool, settings())
            count = await store.rotate(new)
    except MasterKeyError as exc:
        return fail(f"master key: {exc}", DIFFERENT)
    print(f"re-wrapped {count} data keys and the index key under {new.key_id}; now point "
          f"SAYLAU_MASTER_KEY_FILE at {args.new_file} and restart the services")
    return 0


def key_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", default=os.environ.get("SAYLAU_KEY", ""),
                   help="the operator's API key (default: SAYLAU_KEY)")


async def operator(keyring: KeyRing, key: str, scopes: set[str], what: str) -> Principal:
    """The principal of ``key``, looked up as the services look keys up (SAYLAU_API_KEYS, then
    the stored keys), if it holds one of ``scopes``; else Refused, saying which it is: no
    key, an unknown (or revoked) one, or one without the scope."""
    wanted = " or ".join(sorted(scopes))
    if not key:
        raise Refused(f"{what} needs an API key with the {wanted} scope (--key or SAYLAU_KEY)")
    found = await keyring.principal(key)
    if found is None:
        raise Refused(f"unknown API key: not in SAYLAU_API_KEYS and not an active key in "
                      f'"{keyring.schema}".api_keys (revoked, or given to services this shell '
                      "does not share settings with; after 'make up': . infra/env.sh)")
    if not scopes & found.scopes:
        raise Refused(f"{what} needs an API key with the {wanted} scope; the key of "
                      f"{found.partner!r} has {', '.join(sorted(found.scopes))}")
    return found
