"""``saylau``: the command-line tool for operators and auditors (each command has --help).

Exit status of every command: 0 success / clean result, 1 a difference or a failed
verification, 2 bad usage (``saylau.cli.status``, printed by every --help); errors go to
stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from saylau.cli import (
    admin,
    audit,
    checkpoint,
    demo,
    erase,
    migratelog,
    observers,
    privacy,
    quickcount,
    rebuild,
    stations,
    summary,
    users,
)
from saylau.cli.status import EXIT_STATUS_HELP, Refused, fail
from saylau.store.migrations import SchemaBehind, SchemaTooNew

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
REGISTRARS = [admin.register, checkpoint.register, demo.register, privacy.register,
              erase.register, quickcount.register, rebuild.register, stations.register,
              migratelog.register, observers.register, audit.register, summary.register,
              users.register]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="saylau", description=(__doc__ or "").split("\n\n")[0],
                                  formatter_class=Formatter)
    sub = top.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    with_exit_statuses(top)
    return top


class Formatter(argparse.HelpFormatter):
    """argparse's own, except that the exit statuses are printed as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text == EXIT_STATUS_HELP:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def with_exit_statuses(p: argparse.ArgumentParser) -> None:
    """Every command's --help ends with the exit statuses (unless it states its own)."""
    p.epilog = p.epilog or EXIT_STATUS_HELP
    if p.formatter_class is argparse.HelpFormatter:
        p.formatter_class = Formatter
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                with_exit_statuses(child)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Command = args.run
    try:
        return asyncio.run(run(args))
    except Refused as exc:
        return fail(str(exc), exc.status)
    except (SchemaTooNew, SchemaBehind) as exc:  # from a command that opens the database
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
