"""Which addresses outgoing webhooks may reach: the public internet, not the inside.

A partner chooses the webhook URL, so without this check a key with the ``read`` scope could
make the worker POST to the database host, a cloud metadata service (credentials!) or the
operator's admin interfaces. Only globally routable unicast addresses are allowed, unless the
operator's allow-list (``WEBHOOK_ALLOW_HOSTS``: CIDRs and host names) names the target. Pure:
the caller resolves the name and connects to the address that was checked.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
"""Cloud metadata services (AWS, ECS, AWS over IPv6, Alibaba): named even where a range
check already refuses them, so the reason says what they are."""
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def ipv4_spelled(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is only another spelling of (IPv4-mapped, NAT64,
    IPv4-compatible): ``::ffff:127.0.0.1`` is 127.0.0.1, whatever a naive IPv6 check says."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def ipv4_tunnelled(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 end of a 6to4 or Teredo address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    return ip.sixtofour or (ip.teredo[1] if ip.teredo else None)


def forbidden(ip: IPAddress) -> str | None:
    """Why a webhook may not go to ``ip`` (a kind of address), or None if it may."""
    spelled = ipv4_spelled(ip)
    if spelled is not None:
        reason = forbidden(spelled)
        return f"{reason} (written as {ip})" if reason else None
    tunnelled = ipv4_tunnelled(ip)
    if tunnelled is not None and (reason := forbidden(tunnelled)):
        return f"{reason} (tunnelled in {ip})"
    checks = [(ip in METADATA, "cloud metadata"), (ip.is_unspecified, "unspecified"),
              (ip.is_loopback, "loopback"), (ip.is_link_local, "link-local"),
              (ip.is_multicast, "multicast"), (ip.is_private, "private"),
              (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
              (ip.is_reserved, "reserved"), (not ip.is_global, "non-global")]
    return next((reason for hit, reason in checks if hit), None)


@dataclass(frozen=True)
class AllowList:
    """What the operator lets webhooks reach although it is not public."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str) -> AllowList:
        """``WEBHOOK_ALLOW_HOSTS``: comma-separated CIDRs or addresses, host names, and
        ``*.domain`` for every name under a domain."""
        networks, names = [], set()
        for item in filter(None, (part.strip() for part in spec.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(normal_name(item))
        return cls(tuple(networks), frozenset(names))

    def names_host(self, host: str) -> bool:
        name = normal_name(host)
        return name in self.names or any(
            n.startswith("*.") and name.endswith(n[1:]) for n in self.names)

    def covers(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def normal_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def refusal(host: str, addresses: list[IPAddress], allow: AllowList) -> str | None:
    """Why ``host`` may not be reached, or None. Every address it resolves to must pass:
    the connection goes to the first, and DNS could put a private one anywhere."""
    if allow.names_host(host):
        return None
    if not addresses:
        return f"{host!r} does not resolve to any address"
    for ip in addresses:
        reason = forbidden(ip)
        if reason and not allow.covers(ip):
            return (f"{host!r} resolves to {ip}, a {reason} address; an operator can allow "
                    "it in WEBHOOK_ALLOW_HOSTS")
    return None
