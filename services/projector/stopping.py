"""How a projector worker stops before faust acknowledges a batch it did not apply.

The code that decides raises ``StopWorker``; ``ProjectorWorker`` (and ``main``) end the
process in one place, ``end_process``. At once, because faust's orderly shutdown waits for
every message taken to be acknowledged, and the batch the worker stops on never is (nor
must it be: its Kafka offset must not be committed). After the restart the offsets stored in
PostgreSQL decide what is applied.
"""
from __future__ import annotations

import logging
import os
from typing import ClassVar, NoReturn

ASKED = 0
"""Asked to stop while it could not apply (PostgreSQL away, log not verified)."""
BUG = 70
"""The projection failed: a bug, to fix before the batch is applied."""
OTHER_RELEASE = 75
"""The read models are of another projection version: restart with the matching release."""


class StopWorker(SystemExit):
    """Stop this worker with exit ``status``, the batch in hand unacknowledged.

    A SystemExit, so no handler on the way takes it for an error to survive (faust restarts
    an agent that raised an Exception): it leaves the event loop for the worker, which ends
    the process (``end_process``). The first stop raised in a process is kept in
    ``StopWorker.first``: its status is the exit status."""

    first: ClassVar[StopWorker | None] = None

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status)
        self.status, self.reason = status, reason
        if StopWorker.first is None:
            StopWorker.first = self


def end_process(stop: StopWorker) -> NoReturn:
    """End the process now with ``stop``'s status, skipping faust's orderly shutdown (it
    would wait for the unacknowledged batch for ever); the log is flushed first."""
    logging.getLogger("saylau.projector").warning("exit %d: %s", stop.status, stop.reason)
    logging.shutdown()
    os._exit(stop.status)  # noqa: TID251 - the one place a projector process ends at once
