"""Personal-data commands: the master key (make a dev key file, check, rotate) and
``saylau erase``."""
from __future__ import annotations

import argparse
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from saylau.bootstrap import Needs, Wiring, bootstrap, migrate_ingest
from saylau.cli.status import DIFFERENT, Refused, fail
from saylau.intake.outcome import Unavailable
from saylau.privacy.erasure import ERASED_TYPE, erase
from saylau.privacy.keys import MasterKeyError, load_master_key, write_key_file
from saylau.privacy.store import PostgresKeyStore, key_store
from saylau.readmodels import events as stored_events
from saylau.settings import Settings, settings
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
    register_erase(sub)
    register_find(sub)


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


def register_erase(sub: Any) -> None:
    e = sub.add_parser("erase", help="erase a person's names: destroy the keys of every value "
                                     "naming them (admin)",
                       description="Destroys the data key of every stored value that names the "
                                   "person (found by the blind index; give every spelling) and "
                                   "appends a personal_data.erased event (who, when, how many "
                                   "values; never the name). Needs an admin API key.")
    e.add_argument("--name", action="append", required=True,
                   help="a spelling of the name (repeat for each spelling)")
    e.add_argument("--reference", help="the centre's reference of the request (never the name)")
    key_argument(e)
    e.set_defaults(run=run_erase)


def register_find(sub: Any) -> None:
    f = sub.add_parser("find", help="which events name a person (blind index; audit or admin)",
                       description="Looks the name up in the blind index (HMAC of the normalised "
                                   "name; give every spelling) and lists the events that hold "
                                   "it, without decrypting anything. Needs an audit or admin key.")
    f.add_argument("--name", action="append", required=True, help="a spelling (repeatable)")
    key_argument(f)
    f.set_defaults(run=run_find)


async def run_find(args: argparse.Namespace) -> int:
    cfg = settings()
    wiring = await wired(cfg, Needs(search_path=cfg.read_schema, pool_size=2, keys=True))
    try:
        await operator(wiring.keyring, args.key, {"audit", "admin"}, "find")
        keys = key_store_of(wiring)
        key_ids = [k for name in args.name for k in await keys.find_keys(name)]
        async with wiring.pool.acquire() as conn:
            found = await stored_events.sealed_with(conn, key_ids)
    finally:
        await wiring.close()
    for e in found:
        print(f"{e['event_id']}  {e['type']:<28} {e['occurred_at']:%Y-%m-%d %H:%M%z}  "
              f"{e['station_id'] or e['city'] or e['region'] or ''}")
    print(f"{len(found)} event(s), {len(key_ids)} value(s)")
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


async def wired(cfg: Settings, needs: Needs) -> Wiring:
    """``bootstrap``, with a missing or wrong master key refused (exit 2)."""
    try:
        return await bootstrap(cfg, needs)
    except MasterKeyError as exc:
        raise Refused(f"master key: {exc}") from None


def key_store_of(wiring: Wiring) -> PostgresKeyStore:
    if wiring.keys is None:
        raise RuntimeError("bootstrap built no key store: ask for Needs(keys=True)")
    return wiring.keys


async def run_erase(args: argparse.Namespace) -> int:
    cfg = settings()
    wiring = await wired(cfg, Needs(search_path=cfg.ingest_schema, intake=True))
    try:
        who = await operator(wiring.keyring, args.key, {"admin"}, "erase")
        if wiring.intake is None:
            raise RuntimeError("bootstrap built no intake: ask for Needs(intake=True)")
        now = datetime.now(UTC)
        payload = await erase(key_store_of(wiring), args.name, who.partner, now,
                              args.reference)
        event = {"event_id": str(uuid.uuid4()), "type": ERASED_TYPE, "schema_version": 1,
                 "occurred_at": now.isoformat(), "source": "saylau-erase", "payload": payload}
        (outcome,) = await wiring.intake.submit([event], who.partner, who.scopes)
    except ValueError as exc:
        return fail(str(exc))
    except Unavailable as exc:
        return fail(f"keys destroyed, but {ERASED_TYPE} not appended ({exc}); run the same "
                    "command again to record it", DIFFERENT)
    finally:
        await wiring.close()
    print(f"erased {payload['values']} value(s); {ERASED_TYPE} {event['event_id']}: "
          f"{outcome.status}")
    return 0 if outcome.code == 202 else 1
