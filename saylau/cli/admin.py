"""Operator commands: migrate the database, create topics, manage API keys."""
from __future__ import annotations

import argparse
from typing import Any

import asyncpg

from saylau.cli.status import DIFFERENT, fail
from saylau.cli.users import grant_refusal, is_account_partner
from saylau.log.kafka import TopicReplicationError, describe_topic, ensure_topics
from saylau.settings import settings
from saylau.store.db import migrate
from saylau.store.migrations import SchemaTooNew, upgrade
from saylau.web.accounts import ACCOUNT_PARTNER, is_login
from saylau.web.keys import SCOPES, hash_key, new_key, parse_env_keys


def keys_table() -> str:
    return f'"{settings().ingest_schema}".api_keys'


def register(sub: Any) -> None:
    p = sub.add_parser("migrate", help="upgrade the ingest schema (versioned migrations), "
                                       "create the read-model tables and the Kafka topics",
                       description="Apply this release's migrations to INGEST_SCHEMA (accepted "
                                   "ids, API keys, known stations, webhooks, read-model sets), "
                                   "in one transaction; refuse a schema a newer release "
                                   "migrated. Read models are rebuilt, not migrated: "
                                   "'saylau rebuild'.")
    p.add_argument("--schema", default=None, help="read-model schema (default: READ_SCHEMA)")
    p.set_defaults(run=run_migrate)
    t = sub.add_parser("topics", help="the Kafka topics")
    ts = t.add_subparsers(dest="action", required=True)
    ensure = ts.add_parser("ensure", help="create the topics with KAFKA_REPLICATION / "
                           "KAFKA_MIN_ISR (the one way they are created); exit 1 if existing "
                           "ones are replicated less")
    ensure.set_defaults(run=run_topics_ensure)
    k = sub.add_parser("keys", help="create, list or revoke partner API keys")
    ks = k.add_subparsers(dest="action", required=True)
    create = ks.add_parser("create", help="create a key (printed once; stored hashed)")
    create.add_argument("partner")
    create.add_argument("--scopes", default="ingest,read",
                        help=f"comma-separated, of {', '.join(SCOPES)}")
    create.add_argument("--region", action="append", default=[], dest="regions",
                        help="bind the key to a canonical region (repeat for more; none: the "
                             "whole country)")
    create.set_defaults(run=run_keys_create)
    revoke = ks.add_parser("revoke", help="revoke a key at once (no restart needed)")
    revoke.add_argument("key")
    revoke.set_defaults(run=run_keys_revoke)
    ls = ks.add_parser("list", help="list partners, scopes and revocation (SAYLAU_API_KEYS "
                                    "and the stored keys)")
    ls.set_defaults(run=run_keys_list)


async def run_migrate(args: argparse.Namespace) -> int:
    cfg = settings()
    try:
        done = await upgrade(cfg.dsn, cfg.ingest_schema)
    except SchemaTooNew as exc:
        return fail(str(exc))
    conn = await asyncpg.connect(cfg.dsn)
    try:
        await migrate(conn, args.schema or cfg.read_schema)
    finally:
        await conn.close()
    await ensure_topics(cfg)
    moved = (f"upgraded from {done.before or 'unversioned'} to {done.after}"
             if done.before != done.after else f"already at {done.after}")
    print(f"schema {done.schema}: {moved}; read-model tables in "
          f"{args.schema or cfg.read_schema}; topics ready")
    return 0


async def run_topics_ensure(args: argparse.Namespace) -> int:
    cfg = settings()
    try:
        await ensure_topics(cfg)
    except TopicReplicationError as exc:
        return fail(f"refused: {exc}", DIFFERENT)
    for topic in (cfg.events_topic, cfg.dead_letter_topic):
        facts = await describe_topic(cfg.kafka_bootstrap, topic)
        rf = min(len(p.replicas) for p in facts.partitions)
        print(f"{topic}: id {facts.topic_id}, {len(facts.partitions)} partitions, "
              f"replication factor {rf}")
    return 0


async def run_keys_create(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        return fail(f"unknown scopes: {', '.join(sorted(unknown))} (scopes: {', '.join(SCOPES)})")
    refused = partner_refusal(args.partner) or grant_refusal(args.regions)
    if refused:
        return fail(f"keys create: {refused}")
    key = new_key()
    await upgrade(settings().dsn, settings().ingest_schema)
    conn = await asyncpg.connect(settings().dsn)
    try:
        if await is_login(conn, settings().ingest_schema, args.partner):
            return fail(f"keys create: {args.partner!r} is an account's login: logins and "
                        "partners differ")
        await conn.execute(f"INSERT INTO {keys_table()} (key_hash, partner, scopes, regions) "
                           "VALUES ($1, $2, $3, $4)", hash_key(key), args.partner, scopes,
                           list(dict.fromkeys(args.regions)) or None)
    finally:
        await conn.close()
    print(key)
    return 0


def partner_refusal(partner: str) -> str | None:
    if is_account_partner(partner):
        return (f"partner {partner!r}: names starting {ACCOUNT_PARTNER!r} are the accounts' "
                "(saylau users)")
    return None


async def run_keys_revoke(args: argparse.Namespace) -> int:
    conn = await asyncpg.connect(settings().dsn)
    try:
        done = await conn.execute(f"UPDATE {keys_table()} SET revoked_at = now() "
                                  "WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(args.key))
    finally:
        await conn.close()
    if done.endswith(" 0"):
        if hash_key(args.key) in parse_env_keys(settings().saylau_api_keys):
            return fail("this key is given to the services by SAYLAU_API_KEYS, not stored: "
                        "remove it there and restart them")
        return fail("no such active key")
    print("revoked")
    return 0


async def run_keys_list(args: argparse.Namespace) -> int:
    conn = await asyncpg.connect(settings().dsn)
    try:
        rows = await conn.fetch("SELECT partner, scopes, created_at, revoked_at "
                                f"FROM {keys_table()} ORDER BY created_at")
    finally:
        await conn.close()
    for principal in parse_env_keys(settings().saylau_api_keys).values():
        print(f"{principal.partner:<24} {','.join(sorted(principal.scopes)):<32} "
              "active (SAYLAU_API_KEYS)")
    for r in rows:
        state = f"revoked {r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "active"
        print(f"{r['partner']:<24} {','.join(r['scopes']):<32} {state}")
    return 0
