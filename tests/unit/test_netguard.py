"""Webhooks reach the public internet only, checked on the address actually connected to."""
from __future__ import annotations

import asyncio
import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Self

import httpx
import pytest

from saylau.outbound import delivery as outbound
from saylau.outbound.netguard import AllowList, forbidden, refusal
from services.webhooks import sender


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "169.254.169.254", "169.254.170.2", "169.254.1.1", "100.64.0.1", "100.100.100.200",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1",
    "2001:db8::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2002:a00:1::",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2"])
def test_inside_addresses_are_refused(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8",
    "2a00:1450:4001:82a::200e"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address)) is None


def test_metadata_is_named_as_such() -> None:
    assert "metadata" in (forbidden(ipaddress.ip_address("169.254.169.254")) or "")
    assert "metadata" in (forbidden(ipaddress.ip_address("fd00:ec2::254")) or "")


def ips(*addresses: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(a) for a in addresses]


def test_every_resolved_address_must_pass() -> None:
    none = AllowList()
    assert refusal("hooks.example", ips("8.8.8.8"), none) is None
    reason = refusal("rebind.example", ips("8.8.8.8", "127.0.0.1"), none)
    assert reason and "127.0.0.1" in reason and "loopback" in reason
    assert refusal("gone.example", [], none) is not None


def test_the_operator_allow_list_names_networks_and_hosts() -> None:
    allow = AllowList.parse("127.0.0.1/32, 10.0.0.0/8 ,hooks.internal.,*.corp.example, ::1")
    assert refusal("127.0.0.1", ips("127.0.0.1"), allow) is None
    assert refusal("x", ips("10.9.9.9"), allow) is None
    assert refusal("x", ips("::1"), allow) is None
    assert refusal("x", ips("127.0.0.2"), allow) is not None
    assert refusal("HOOKS.internal", ips("192.168.0.5"), allow) is None
    assert refusal("a.b.corp.example", ips("192.168.0.5"), allow) is None
    assert refusal("corp.example.evil", ips("192.168.0.5"), allow) is not None
    assert refusal("x", ips("169.254.169.254"), allow) is not None


async def test_literal_and_local_names_are_checked_before_any_connection() -> None:
    none = AllowList()
    for url in ("http://127.0.0.1:9/x", "http://[::1]/x", "http://[::ffff:7f00:1]/x",
                "http://169.254.169.254/latest/meta-data", "http://localhost:8080/x",
                "https://0x7f000001/x"):
        assert await outbound.check(url, none), url
        with pytest.raises(outbound.TargetRefused):
            await outbound.pin(url, none)


async def test_the_request_goes_to_the_checked_address_with_the_host_name_kept() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    allow = AllowList.parse("localhost")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        reply = await outbound.post(http, "https://localhost:8443/hook?a=1", allow, b"{}",
                                    {"X-Test": "1"})
    assert reply.status_code == 204
    sent = seen[0]
    assert sent.url.host in ("127.0.0.1", "::1") and sent.url.port == 8443
    assert sent.url.path == "/hook" and sent.url.query == b"a=1"
    assert sent.headers["host"] == "localhost:8443" and sent.headers["x-test"] == "1"
    assert sent.extensions["sni_hostname"] == "localhost"


class Server:
    """A plain HTTP server on ``host``: records each request line, answers ``answer``."""

    def __init__(self, host: str, answer: Callable[[], bytes]) -> None:
        self.host, self.answer, self.requests = host, answer, []
        self.port = 0

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self.serve, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        self.requests.append(head.split(b"\r\n", 1)[0].decode())
        writer.write(self.answer())
        await writer.drain()
        writer.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_towards_an_inside_address_is_answered_not_followed(status: int) -> None:
    """A partner's endpoint (allowed) answers a delivery with a redirect to an address inside
    the deployment (127.0.0.2: loopback, not on the allow list): the delivery records the
    redirect as the answer, and nothing reaches the inside address."""
    inside = Server("127.0.0.2", lambda: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    async with inside:
        target = f"http://127.0.0.2:{inside.port}/latest/meta-data"
        partner = Server("127.0.0.1", lambda: (
            f"HTTP/1.1 {status} Moved\r\nLocation: {target}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n").encode())
        async with partner, outbound.client(5) as http:
            code, error, _ = await sender.post(
                http, AllowList.parse("127.0.0.1/32"), f"http://127.0.0.1:{partner.port}/hook",
                "whsec_" + "A" * 44, uuid.uuid4(), b"{}")
    assert (code, error) == (status, None)
    assert partner.requests == ["POST /hook HTTP/1.1"]
    assert inside.requests == []
    assert await outbound.check(target, AllowList()) is not None  # it is an inside address


def test_pinned_clients_read_no_proxy_settings_from_the_environment() -> None:
    http = outbound.client(5)
    assert not http.trust_env
