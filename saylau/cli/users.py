"""``saylau users``: accounts of people at the centre, one role each, a coordinator bound to
her regions.

``add LOGIN --role ROLE [--region REGION]…`` creates an account and prints its initial
password as the last line (stored only as an argon2id hash); ``disable LOGIN`` ends its
access (its sessions within seconds); ``list`` prints login, role, regions and state. Roles
and what each may do: ``saylau.domain.roles``. Grants name canonical regions only (as the
election files list them); a login may not be a key's partner name, nor the reverse.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from saylau.cli.status import OK, fail
from saylau.domain.calendar import Calendars
from saylau.domain.regions import not_canonical
from saylau.domain.roles import ROLES, check_account
from saylau.settings import settings
from saylau.store.migrations import upgrade
from saylau.web.accounts import (
    ACCOUNT_PARTNER,
    accounts,
    add_account,
    disable_account,
    is_partner,
)
from saylau.web.keys import parse_env_keys
from saylau.web.lockout import pin_hasher

T = TypeVar("T")
LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def register(sub: Any) -> None:
    u = sub.add_parser("users", help="staff accounts: add, disable, list")
    us = u.add_subparsers(dest="action", required=True)
    add = us.add_parser("add", help="create an account (its initial password printed last)")
    add.add_argument("login")
    add.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    add.add_argument("--region", action="append", default=[], dest="regions",
                     help="a canonical region a coordinator is bound to (repeat for more)")
    add.set_defaults(run=run_add)
    off = us.add_parser("disable", help="disable an account (its sessions end within 5 s)")
    off.add_argument("login")
    off.set_defaults(run=run_disable)
    ls = us.add_parser("list", help="login, role, regions and state of every account")
    ls.set_defaults(run=run_list)


def canonical_regions() -> list[str]:
    """Every region the shipped election files list, by its canonical name."""
    return sorted({r for e in Calendars.load().elections.values() for r in e.regions})


def grant_refusal(regions: list[str]) -> str | None:
    """Why a grant cannot name ``regions`` (``not_canonical``), or None."""
    return not_canonical(regions, canonical_regions()) if regions else None


def login_refusal(login: str) -> str | None:
    if not LOGIN.match(login):
        return (f"login {login[:100]!r}: 1 to 100 letters, digits and . _ @ -, starting with "
                "a letter or digit")
    if login in {p.partner for p in parse_env_keys(settings().saylau_api_keys).values()}:
        return f"{login!r} is a key's partner (SAYLAU_API_KEYS): logins and partners differ"
    return None


async def run_add(args: argparse.Namespace) -> int:
    refused = (login_refusal(args.login) or check_account(args.role, args.regions)
               or grant_refusal(args.regions))
    if refused:
        return fail(f"users add: {refused}")
    cfg = settings()
    await upgrade(cfg.dsn, cfg.ingest_schema)
    password = secrets.token_urlsafe(12)
    hashed = await asyncio.to_thread(pin_hasher().hash, password)
    conn = await asyncpg.connect(cfg.dsn)
    try:
        if await is_partner(conn, cfg.ingest_schema, args.login):
            return fail(f"users add: {args.login!r} is a key's partner: logins and partners "
                        "differ")
        regions = list(dict.fromkeys(args.regions))
        if not await add_account(conn, cfg.ingest_schema, args.login, args.role, regions,
                                 hashed):
            return fail(f"users add: an account {args.login!r} exists")
    finally:
        await conn.close()
    print(f"account {args.login} ({args.role}, {where(regions)}) created; its initial "
          "password (stored only as a hash):")
    print(password)
    return OK


def where(regions: list[str]) -> str:
    return "regions: " + ", ".join(regions) if regions else "the whole country"


async def in_ingest_schema(step: Callable[[asyncpg.Connection, str], Awaitable[T]]) -> T:
    """``step(connection, ingest schema)`` on a connection of its own."""
    cfg = settings()
    conn = await asyncpg.connect(cfg.dsn)
    try:
        return await step(conn, cfg.ingest_schema)
    finally:
        await conn.close()


async def run_disable(args: argparse.Namespace) -> int:
    if not await in_ingest_schema(lambda conn, schema: disable_account(conn, schema,
                                                                        args.login)):
        return fail(f"users disable: no active account {args.login!r}")
    print(f"account {args.login} disabled; its sessions end within 5 seconds")
    return OK


async def run_list(args: argparse.Namespace) -> int:
    for r in await in_ingest_schema(accounts):
        print(f"{r['login']:<24} {r['role']:<12} {','.join(r['regions']) or '-':<32} "
              f"{state(r)}")
    return OK


def state(row: Any) -> str:
    if row["disabled_at"] is not None:
        return f"disabled {row['disabled_at']:%Y-%m-%d %H:%M}"
    return "active"


def is_account_partner(partner: str) -> bool:
    """Whether a partner name is taken by accounts' principals (``user:<login>``)."""
    return partner.startswith(ACCOUNT_PARTNER)
