"""``saylau find`` and ``saylau erase``: which events name a person, and erasing those values
(or one event's). Names are found by their blind index, free text by opening it with the
master key (``saylau.privacy.search``)."""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from saylau.bootstrap import Needs, Wiring, bootstrap
from saylau.catalogue import catalogue
from saylau.cli.privacy import key_argument, operator
from saylau.intake.outcome import Unavailable
from saylau.intake.service import Intake
from saylau.privacy.erasure import (
    ERASED_TYPE,
    Append,
    Erased,
    ErasureRequest,
    NotRecorded,
    checked,
    erase,
)
from saylau.privacy.keys import MasterKeyError
from saylau.privacy.records import record_key_ids
from saylau.privacy.search import TextHits, free_text_types, texts_naming
from saylau.privacy.store import PurgeIncomplete
from saylau.readmodels import events as stored_events
from saylau.settings import settings
from saylau.web.keys import Principal

DOC = "docs/audit/erasure-retention.md"


def register(sub: Any) -> None:
    e = sub.add_parser(
        "erase", help="erase a person's names and the texts naming them, or one event's "
                      "personal values: destroy their keys (admin)",
        description="Destroys the data key of every stored value that names the person: names "
                    "found by the blind index (give every spelling), free texts (descriptions, "
                    "reasons, notes, messages) found by opening them with the master key; a "
                    "text naming them is erased whole. --event erases every name and free "
                    "text of that event. Then rewrites the key table (VACUUM FULL) and appends "
                    "a personal_data.erased event (who, when, how many values; never the "
                    f"name). Needs an admin API key. What backups and WAL keep: {DOC}.")
    e.add_argument("--name", action="append", default=[],
                   help="a spelling of the name (repeat for each spelling)")
    e.add_argument("--event", action="append", default=[], type=event_id,
                   help="an event id: erase its names and free texts (repeatable)")
    e.add_argument("--reference", help="the centre's reference of the request (never the name)")
    key_argument(e)
    e.set_defaults(run=run_erase)
    f = sub.add_parser("find", help="which events name a person (audit or admin)",
                       description="Looks the name up in the blind index (HMAC of the normalised "
                                   "name; give every spelling) and in the free texts, opened "
                                   "with the master key, and lists the events that hold it. "
                                   "Needs an audit or admin key.")
    f.add_argument("--name", action="append", required=True, help="a spelling (repeatable)")
    key_argument(f)
    f.set_defaults(run=run_find)


def event_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a UUID)") from None


async def texts_naming_in(wiring: Wiring, names: list[str]) -> TextHits:
    """Every free text in the read models that names one of ``names``."""
    hits, keys, read_schema = TextHits(), wiring.keys, wiring.settings.read_schema
    if keys is None:
        raise MasterKeyError("no data-key store: the master key was not loaded")
    async with wiring.pool.acquire() as conn:
        types = free_text_types(catalogue())
        async for page in stored_events.records_with_text(conn, read_schema, types):
            hits.add(await texts_naming(page, keys, names))
    return hits


async def values_of_events(wiring: Wiring, event_ids: tuple[str, ...]) -> set[str]:
    """The data keys of every sealed value of these events; ValueError naming one not found."""
    found: set[str] = set()
    async with wiring.pool.acquire() as conn:
        for eid in event_ids:
            record = await stored_events.stored_record(conn, wiring.settings.read_schema,
                                                       uuid.UUID(eid))
            if record is None:
                raise ValueError(f"event: no event {eid} in the read models (not appended, or "
                                 "not projected yet)")
            found |= record_key_ids([record])
    return found


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
        request = checked(ErasureRequest(who.partner, datetime.now(UTC), tuple(args.name),
                                         tuple(args.event), args.reference))
        hits = await texts_naming_in(wiring, list(request.names)) if request.names else TextHits()
        key_ids = hits.keys | await values_of_events(wiring, request.event_ids)
        if wiring.keys is None or wiring.intake is None:
            raise MasterKeyError("ingest was not wired")
        done = await erase(wiring.keys, request, key_ids, appender(wiring.intake, who))
    except (PermissionError, ValueError) as exc:
        print(f"saylau: {exc}", file=sys.stderr)
        return 2
    except (asyncpg.LockNotAvailableError, PurgeIncomplete) as exc:
        why = exc if isinstance(exc, PurgeIncomplete) else "another transaction held its lock"
        print(f"saylau: the keys are destroyed, but the key table is not rewritten yet: {why}; "
              f"the record waits in PostgreSQL: run the same command again to finish ({DOC})",
              file=sys.stderr)
        return 1
    finally:
        await wiring.close()
    return report(done, hits)


def report(done: Erased, hits: TextHits) -> int:
    """What ``saylau erase`` says: each record appended, the values erased, what it could not
    reach; exit 1 when a record is still pending."""
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
    if hits.plaintext:
        print(f"{len(hits.plaintext)} event(s) name them in plain text (appended before free "
              f"text was sealed): no key to destroy, see {DOC}: "
              + ", ".join(sorted(hits.plaintext)))
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
        hits = await texts_naming_in(wiring, args.name)
        key_ids += sorted(hits.keys)
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
    if hits.plaintext:
        print(f"and {len(hits.plaintext)} event(s) naming them in plain text, which erasure "
              "cannot reach: " + ", ".join(sorted(hits.plaintext)))
    return 0
