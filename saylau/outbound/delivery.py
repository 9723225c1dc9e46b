"""Outgoing HTTP to partner-chosen URLs, pinned to an address that passed ``netguard``.

The host name is resolved once, every address it resolves to is checked, and the request
goes to the checked address (URL host replaced by it; ``Host`` header and TLS SNI / certificate
name kept as the partner's host name). A DNS answer that changes between the check and the
connection (DNS rebinding) therefore cannot steer the request inside. Clients used here must
not keep connections alive across deliveries (two host names may share an address but not a
certificate), follow redirects or read proxy settings from the environment: ``client()``.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

from saylau.outbound.netguard import AllowList, IPAddress, refusal

RESOLVE_SECONDS = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL's host is (or resolves to) an address webhooks may not reach."""


@dataclass(frozen=True)
class Pinned:
    """A request target bound to one checked address."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def client(timeout: float) -> httpx.AsyncClient:
    """A client fit for pinned requests: no keep-alive, no redirects, no proxies from env."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_keepalive_connections=0))


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (itself if it is one); [] when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS)
    except (OSError, TimeoutError, UnicodeError):
        return []
    found = [ipaddress.ip_address(info[4][0]) for info in infos]
    return list(dict.fromkeys(found))


def host_of(url: httpx.URL) -> str:
    """The ASCII (IDNA) host name, without IPv6 brackets."""
    return url.raw_host.decode("ascii").strip("[]")


async def check(url: str, allow: AllowList) -> str | None:
    """Why ``url`` may not be a webhook target (for registration), or None."""
    target = httpx.URL(url)
    host = host_of(target)
    port = target.port or DEFAULT_PORTS.get(target.scheme, 80)
    return refusal(host, await resolve(host, port), allow)


async def pin(url: str, allow: AllowList) -> Pinned:
    """Resolve once, check every address, bind the request to the first one."""
    target = httpx.URL(url)
    host = host_of(target)
    addresses = await resolve(host, target.port or DEFAULT_PORTS.get(target.scheme, 80))
    reason = refusal(host, addresses, allow)
    if reason is not None:
        raise TargetRefused(reason)
    if not addresses:
        raise TargetRefused(f"{host!r} does not resolve to any address")
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    return Pinned(target.copy_with(host=str(addresses[0])),
                  {"Host": target.netloc.decode("ascii")}, extensions)


async def post(http: httpx.AsyncClient, url: str, allow: AllowList, content: bytes,
               headers: dict[str, str]) -> httpx.Response:
    """POST ``content`` to ``url`` at its checked address (TargetRefused if it has none)."""
    pinned = await pin(url, allow)
    return await http.post(pinned.url, content=content, headers={**headers, **pinned.headers},
                           extensions=pinned.extensions)
