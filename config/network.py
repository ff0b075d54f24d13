"""Who sent a request: the client's address behind trusted reverse proxies only.

``X-Forwarded-For`` is written by whoever talks to us, so it is believed only when the
connection comes from a proxy listed in ``TOKENRANK_TRUSTED_PROXIES``; every proxy appends
the address it saw, so the list is read from the right and the first entry that is not a
trusted proxy is the client. Rate limits (read API, admin login) key on this address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "127.0.0.1"]`` as networks; ValueError names a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network") from exc
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:192.0.2.1 is 192.0.2.1
    return mapped or address


def in_networks(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The client's IP address as text ("" when the connection has none)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return ""
    trusted = settings.TOKENRANK["TRUSTED_PROXIES"]
    client = remote
    if in_networks(client, trusted):
        for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            address = _address(hop)
            if address is None:
                break  # garbage where a proxy should have written an address: stop at the proxy
            client = address
            if not in_networks(client, trusted):
                break
    return str(client)


def client_ident(request: HttpRequest) -> str:
    """What a per-client rate limit counts under: the address, or for IPv6 its /64 (one
    subscriber's network, whose other 2^64 addresses cost an attacker nothing)."""
    text = client_address(request)
    address = _address(text)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return text
