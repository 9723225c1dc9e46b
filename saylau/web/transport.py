"""One write per response: uvicorn's httptools protocol, with a response's head and body sent
in one ``send`` instead of two.

uvicorn writes the status line and headers as soon as the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two system calls,
two TCP segments and two wake-ups of the client for every answer. For the api's hot reads,
which answer from memory, those two writes were about 40 % of a worker's CPU and the source
of its latency tail (at 100,000 events, 50 readers: ``/v1/triage`` p99 55–65 ms with two
writes, 19–23 ms with one; see README "One write per answer").

``OneWritePerResponse`` gives uvicorn's protocol a transport that holds what is written
during one turn of the event loop and sends it at the end of that turn, in one write. The
head and body of an answer are sent in the same turn (neither ``send`` waits on I/O), so
they leave together; a streamed response (the live feed) is still sent as it is written,
at most one turn later. Order is kept, closing sends what is held first, aborting drops it.

Use it with uvicorn's own command line: ``uvicorn services.api.app:app --http
saylau.web.transport:OneWritePerResponse`` (``make up`` and the tests do).
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeldWrites(asyncio.Transport):
    """A transport that sends what was written in one event-loop turn in one write."""

    __slots__ = ("held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport, self.loop = transport, loop
        self.held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self.held:
            self.loop.call_soon(self.flush)
        self.held.append(bytes(data))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what is held (nothing if the connection is already closing)."""
        if not self.held:
            return
        data = self.held[0] if len(self.held) == 1 else b"".join(self.held)
        self.held = []
        if not self.transport.is_closing():
            self.transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.held = []
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(len(d) for d in self.held)

    # the rest is the real transport's
    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.transport.get_write_buffer_limits()


class OneWritePerResponse(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through ``HeldWrites``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # flow control keeps the real transport
        self.transport = HeldWrites(transport, self.loop)
