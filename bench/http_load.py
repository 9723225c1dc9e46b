"""A minimal keep-alive HTTP/1.1 client: the load generator must cost less than the server.

One ``asyncio.Protocol`` per connection: a request is one write, an answer is parsed from the
bytes received in one pass (status line, ``Content-Length``, body) and hands its future the
result; no stream reader, no line-by-line awaits. On this 2-core machine the client shares the
cores with the stack it measures, so every microsecond it spends is taken from the server.
"""
from __future__ import annotations

import asyncio
from typing import Any

import orjson


class AnswerReader(asyncio.Protocol):
    """Collects the bytes of one connection and completes the waiting request's future with
    each whole answer (status, body bytes)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiting: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answer = parse_answer(self.buffer)
        if answer is not None and self.waiting is not None and not self.waiting.done():
            status, body, used = answer
            del self.buffer[:used]
            self.waiting.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("the server closed the connection")
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(self.lost)


def parse_answer(buffer: bytearray) -> tuple[int, bytes, int] | None:
    """The first whole answer in ``buffer``: status, body and the bytes it used; None while
    incomplete. Answers carry ``Content-Length`` (no chunked bodies from these servers)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    length, at = 0, head.find(b"\r\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17:stop if stop >= 0 else None])
    if len(buffer) < end + 4 + length:
        return None
    return int(head[9:12]), bytes(buffer[end + 4:end + 4 + length]), end + 4 + length


class Connection:
    """One persistent connection that POSTs JSON and reads the JSON answer."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.prefix = (f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
                       "Content-Type: application/json\r\nContent-Length: ").encode()
        self.reader: AnswerReader | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, Any]:
        if self.reader is None or self.reader.lost is not None:
            transport, self.reader = await asyncio.get_running_loop().create_connection(
                AnswerReader, self.host, self.port)
            self.reader.transport = transport  # uvloop calls connection_made a turn later
        reader = self.reader
        assert reader.transport is not None
        reader.waiting = asyncio.get_running_loop().create_future()
        reader.transport.write(b"POST %s HTTP/1.1\r\n%s%d\r\n\r\n%s" % (
            path.encode(), self.prefix, len(body), body))
        status, data = await reader.waiting
        return status, orjson.loads(data) if data else None

    async def close(self) -> None:
        if self.reader is not None and self.reader.transport is not None:
            self.reader.transport.close()
