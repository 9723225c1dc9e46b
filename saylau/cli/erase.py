"""``saylau find`` and ``saylau erase``: which events name a person (by the blind index),
and erasing those values."""
from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg

from saylau.bootstrap import Needs, bootstrap
from saylau.cli.privacy import key_argument, operator
from saylau.intake.outcome import Unavailable
from saylau.intake.service import Intake
from saylau.privacy.erasure import (
    ERASED_TYPE,
    Append,
    Erased,
    ErasureRequest,
    NotRecorded,
    erase,
)
from saylau.privacy.keys import MasterKeyError
from saylau.privacy.store import PurgeIncomplete
from saylau.readmodels import events as stored_events
from saylau.settings import settings
from saylau.web.keys import Principal


def register(sub: Any) -> None:
    e = sub.add_parser(
        "erase", help="erase a person's names: destroy the keys of every value naming them "
                      "(admin)",
        description="Destroys the data key of every stored value that names the person (found "
                    "by the blind index; give every spelling), rewrites the key table (VACUUM "
                    "FULL) and appends a personal_data.erased event (who, when, how many "
                    "values; never the name). Needs an admin API key.")
    e.add_argument("--name", action="append", required=True,
                   help="a spelling of the name (repeat for each spelling)")
    e.add_argument("--reference", help="the centre's reference of the request (never the name)")
    key_argument(e)
    e.set_defaults(run=run_erase)
    f = sub.add_parser("find", help="which events name a person (blind index; audit or admin)",
                       description="Looks the name up in the blind index (HMAC of the normalised "
                                   "name; give every spelling) and lists the events that hold "
                                   "it, without decrypting anything. Needs an audit or admin key.")
    f.add_argument("--name", action="append", required=True, help="a spelling (repeatable)")
    key_argument(f)
    f.set_defaults(run=run_find)


def appender(intake: Intake, who: Principal) -> Append:
    async def append(event: dict[str, Any]) -> str:
        try:
            (outcome,) = await intake.submit([event], who.partner, who.scopes)
        except Unavailable as exc:
            raise NotRecorded(f"{ERASED_TYPE} {event['event_id']} not appended ({exc})") from None
        if outcome.code not in (200, 202):
            raise NotRecorded(f"{ERASED_TYPE} {event['event_id']} not appended "
                              f"({outcome.status})")
        return outcome.status
    return append


async def run_erase(args: argparse.Namespace) -> int:
    cfg = settings()
    try:
        wiring = await bootstrap(cfg, Needs(search_path=cfg.ingest_schema, intake=True))
    except MasterKeyError as exc:
        print(f"master key: {exc}", file=sys.stderr)
        return 1
    try:
        who = await operator(wiring.keyring, args.key, {"admin"}, "erase")
        request = ErasureRequest(who.partner, datetime.now(UTC), tuple(args.name),
                                 args.reference)
        if wiring.keys is None or wiring.intake is None:
            raise MasterKeyError("ingest was not wired")
        done = await erase(wiring.keys, request, (), appender(wiring.intake, who))
    except (PermissionError, ValueError) as exc:
        print(f"saylau: {exc}", file=sys.stderr)
        return 2
    except (asyncpg.LockNotAvailableError, PurgeIncomplete) as exc:
        why = exc if isinstance(exc, PurgeIncomplete) else "another transaction held its lock"
        print(f"saylau: the keys are destroyed, but the key table is not rewritten yet: {why}; "
              "the record waits in PostgreSQL: run the same command again to finish",
              file=sys.stderr)
        return 1
    finally:
        await wiring.close()
    return report(done)


def report(done: Erased) -> int:
    """What ``saylau erase`` says: each record appended and the values erased; exit 1 when a
    record is still pending."""
    mine = done.event["event_id"] if done.event else None
    statuses = {event["event_id"]: status for event, status in done.recorded}
    for event, status in done.recorded:
        if event["event_id"] != mine:
            print(f"recorded an earlier erasure of {event['payload']['values']} value(s); "
                  f"{ERASED_TYPE} {event['event_id']}: {status}")
    if mine is None:
        print("erased 0 value(s): nothing more to erase, the earlier record stands")
    else:
        print(f"erased {done.values} value(s); {ERASED_TYPE} {mine}: "
              f"{statuses.get(mine, 'pending')}")
    if done.not_recorded:
        print(f"saylau: the keys are destroyed, but {done.not_recorded}; it is kept in "
              "PostgreSQL and the next `saylau erase` appends it: run the same command again",
              file=sys.stderr)
        return 1
    return 0


async def run_find(args: argparse.Namespace) -> int:
    cfg = settings()
    try:
        wiring = await bootstrap(cfg, Needs(search_path=cfg.read_schema, pool_size=2, keys=True))
    except MasterKeyError as exc:
        print(f"master key: {exc}", file=sys.stderr)
        return 1
    try:
        await operator(wiring.keyring, args.key, {"audit", "admin"}, "find")
        if wiring.keys is None:
            raise MasterKeyError("no data-key store: the master key was not loaded")
        key_ids = [k for name in args.name for k in await wiring.keys.find_keys(name)]
        async with wiring.pool.acquire() as conn:
            found = await stored_events.sealed_with(conn, key_ids)
    except PermissionError as exc:
        print(f"saylau: {exc}", file=sys.stderr)
        return 2
    finally:
        await wiring.close()
    for e in found:
        print(f"{e['event_id']}  {e['type']:<28} {e['occurred_at']:%Y-%m-%d %H:%M%z}  "
              f"{e['station_id'] or e['city'] or e['region'] or ''}")
    print(f"{len(found)} event(s), {len(key_ids)} value(s)")
    return 0
