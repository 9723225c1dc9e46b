"""The bench's HTTP client reads answers whole, however the bytes arrive."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from bench.http_load import Connection, parse_answer

ANSWER = (b"HTTP/1.1 202 Accepted\r\ndate: x\r\nContent-Length: 15\r\n"
          b"content-type: application/json\r\n\r\n{\"offset\": 42}\n")


def test_an_answer_is_whole_only_with_its_body() -> None:
    for cut in range(len(ANSWER)):
        assert parse_answer(bytearray(ANSWER[:cut])) is None
    assert parse_answer(bytearray(ANSWER + b"HTTP/1.1 ...")) == (
        202, b"{\"offset\": 42}\n", len(ANSWER))
    empty = b"HTTP/1.1 204 No Content\r\nserver: x\r\n\r\n"
    assert parse_answer(bytearray(empty)) == (204, b"", len(empty))


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_a_connection_posts_and_reads_answers_sent_in_pieces(run: Callable[[Any], Any]) -> None:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            seen.append(head + await reader.readexactly(length))
            for i in range(0, len(ANSWER), 7):  # the answer in 7-byte pieces
                writer.write(ANSWER[i:i + 7])
                await writer.drain()
                await asyncio.sleep(0)
        writer.close()

    async def exchange() -> list[tuple[int, object]]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = Connection("127.0.0.1", port, "k")
        try:
            return [await conn.post("/v1/events", b'{"a": 1}'),
                    await conn.post("/v1/events", b'{"b": 2}')]
        finally:
            await conn.close()
            server.close()

    assert run(exchange()) == [(202, {"offset": 42}), (202, {"offset": 42})]
    assert seen[0].startswith(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert b"Authorization: Bearer k\r\n" in seen[0] and seen[1].endswith(b'\r\n\r\n{"b": 2}')
