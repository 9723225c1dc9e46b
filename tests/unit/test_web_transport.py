"""``OneWritePerResponse``: uvicorn's own httptools protocol, driven with real requests, sends
an answer's head and body in one write, keeps a stream's order and closes cleanly."""
from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from saylau.web.transport import HeldWrites, OneWritePerResponse


class Recording(asyncio.Transport):
    """What the socket would have been asked to send, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def answer(scope: Any, receive: Any, send: Any) -> None:
    body = b'{"detained_now": 3}'
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def stream(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    for n in range(3):
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % n, "more_body": True})
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b""})


async def serve(protocol_class: type[HttpToolsProtocol], app: Any, request: bytes,
                seconds: float = 0.2) -> Recording:
    config = Config(app=app, lifespan="off", log_level="warning", proxy_headers=False)
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={},
                              _loop=asyncio.get_running_loop())
    transport = Recording()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.sleep(seconds)
    protocol.connection_lost(None)
    return transport


GET = b"GET /v1/detentions HTTP/1.1\r\nHost: localhost\r\n\r\n"


async def test_an_answer_leaves_in_one_write() -> None:
    plain = await serve(HttpToolsProtocol, answer, GET)
    assert len(plain.writes) == 2  # uvicorn alone: head, then body
    one = await serve(OneWritePerResponse, answer, GET)
    assert one.writes == [b"".join(plain.writes)]
    assert one.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert one.writes[0].endswith(b'\r\n\r\n{"detained_now": 3}')


async def test_pipelined_requests_are_answered_in_order() -> None:
    one = await serve(OneWritePerResponse, answer, GET * 3)
    sent = b"".join(one.writes)
    assert sent.count(b"HTTP/1.1 200 OK") == 3
    assert sent.count(b'{"detained_now": 3}') == 3


async def test_a_stream_is_sent_as_written_and_in_order() -> None:
    plain = await serve(HttpToolsProtocol, stream, GET)
    one = await serve(OneWritePerResponse, stream, GET)
    assert b"".join(one.writes) == b"".join(plain.writes)
    # the chunks are apart in time, so each leaves on its own turn (the first with the head)
    assert len(one.writes) == 4
    assert b"data: 0" in one.writes[0] and one.writes[0].startswith(b"HTTP/1.1 200 OK")


async def test_connection_close_sends_the_answer_before_closing() -> None:
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    one = await serve(OneWritePerResponse, answer, request)
    assert len(one.writes) == 1 and one.writes[0].endswith(b'{"detained_now": 3}')
    assert one.closed


async def test_held_writes_are_sent_at_the_end_of_the_turn_and_dropped_on_abort() -> None:
    loop = asyncio.get_running_loop()
    real = Recording()
    held = HeldWrites(real, loop)
    held.write(b"head ")
    held.writelines([bytearray(b"body"), memoryview(b"")])
    assert real.writes == [] and held.get_write_buffer_size() == 9
    await asyncio.sleep(0)
    assert real.writes == [b"head body"]
    held.write(b"last")
    held.close()
    assert real.writes == [b"head body", b"last"] and real.closed

    dropped = Recording()
    held = HeldWrites(dropped, loop)
    held.write(b"never sent")
    held.abort()
    await asyncio.sleep(0)
    assert dropped.writes == [] and dropped.aborted
