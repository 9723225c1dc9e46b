"""``saylau``: the command-line tool for operators and auditors.

Exit status: 0 success / clean result, 1 a difference or a failed verification, 2 bad usage.
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
    privacy,
    quickcount,
    rebuild,
    stations,
)

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
REGISTRARS = [admin.register, checkpoint.register, demo.register, privacy.register,
              erase.register, quickcount.register, rebuild.register, stations.register,
              migratelog.register, audit.register]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="saylau", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Command = args.run
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
