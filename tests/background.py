"""Threads that keep doing something while a test acts (partners posting, screens reading),
and never die unnoticed: what one raised fails the test when it is stopped or asked."""
from __future__ import annotations

import threading

STOP_SECONDS = 30.0


class Background(threading.Thread):
    """Runs ``step`` again and again until ``stop``; an exception ends the thread and is
    re-raised by ``stop`` and by ``check`` (call it where the test waits on the thread's
    progress, so a dead thread fails the wait at once instead of timing it out)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name=type(self).__name__)
        self.done = threading.Event()
        self.error: BaseException | None = None

    def step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            while not self.done.is_set():
                self.step()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by check()
            self.error = exc

    def check(self) -> None:
        """Raise what ended the thread, if anything did."""
        if self.error is not None:
            raise RuntimeError(f"{self.name} died: {self.error!r}") from self.error

    def stop(self) -> None:
        """Stop it, wait for it, and fail if it died or does not stop."""
        self.done.set()
        self.join(STOP_SECONDS)
        self.check()
        if self.is_alive():
            raise RuntimeError(f"{self.name} did not stop within {STOP_SECONDS} s")
