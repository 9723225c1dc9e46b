"""Exit statuses of ``saylau`` and the one way its commands report an error: ``fail``, on
stderr (stdout holds results only, so it can be piped)."""
from __future__ import annotations

import sys

OK = 0
"""Success, or a clean result."""
DIFFERENT = 1
"""A difference or a failed verification (or work left incomplete: the message says what to
run again)."""
USAGE = 2
"""Bad usage: wrong arguments or settings, an unknown key or one without the scope needed, a
request the service refused."""

EXIT_STATUS_HELP = f"""exit status:
  {OK}  success, or a clean result
  {DIFFERENT}  a difference or a failed verification (or work left incomplete: the message
     says what to run again)
  {USAGE}  bad usage: wrong arguments or settings, an unknown key or one without the scope
     needed, a request the service refused
errors are printed on stderr, results on stdout."""


class Refused(Exception):
    """The command cannot do what was asked: ``saylau`` prints the message with ``fail``
    and exits with ``status``."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, status: int = USAGE) -> int:
    """Print ``message`` on stderr as ``saylau: message``; return ``status`` to exit with."""
    print(f"saylau: {message}", file=sys.stderr)
    return status
