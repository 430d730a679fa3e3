"""Live-mode webhooks go to public unicast addresses only (the guard against SSRF).

A merchant's endpoint URL is fetched by Kassa's own machines, so an endpoint pointing at loopback, a private
network, link-local addresses (cloud metadata services) or other reserved ranges could reach what only Kassa
should. Live-mode endpoints are refused there; test-mode endpoints may point at a developer's own machine.

The rule, for every address a host resolves to (all of them must pass):
- IPv4: globally routable (`is_global`), and not multicast or reserved.
- IPv6: inside 2000::/3 (global unicast) and `is_global`. Forms that embed an IPv4 address are judged by it:
  IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::/48` and Teredo `2001::/32` (its
  server and its client address). Everything else outside 2000::/3 is refused outright, among them IPv4-compatible
  `::a.b.c.d` (deprecated), IPv4-translated `::ffff:0:a.b.c.d` and local-use NAT64 `64:ff9b:1::/48` (the
  operator decides what it maps to).

It is checked twice: when a live endpoint's URL is set (the API, with the system resolver), and on every new
connection at delivery (`http.HttpClient`), which resolves once, checks every address and connects to a checked
address, never to the name: a name that re-resolves elsewhere after the check (DNS rebinding) cannot move it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
SHARED = ipaddress.IPv4Network("100.64.0.0/10")
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
SHOWN = 100  # characters of a host name quoted in an error


class RefusedTarget(Exception):
    """A URL live webhooks may not be sent to; the message says why."""


class PrivateAddress(RefusedTarget):
    """The host is, or resolves to, an address that is not public."""


class Unresolvable(RefusedTarget):
    """The host has no address."""


def literal(host: str) -> str | None:
    """`host` itself when it is an IP address literal (no lookup needed), else None."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


def refusal(address: IPAddress) -> str | None:
    """Why `address` may not receive live webhooks ("loopback", …), or None when it may."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_refusal(address)
    for embedded in _embedded_ipv4(address):
        reason = _ipv4_refusal(embedded)
        if reason is not None:
            return f"an IPv6 form of {embedded}, which is {reason}"
    if address.ipv4_mapped is not None or address in NAT64:
        return None  # reached through the IPv4 address it embeds, which passed
    if address not in GLOBAL_UNICAST:
        return _ipv6_kind(address)
    if not address.is_global:
        return "not globally routable"
    return None


def _ipv4_refusal(address: ipaddress.IPv4Address) -> str | None:
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in THIS_NETWORK, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address in SHARED, "shared (carrier-grade NAT)"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # the Teredo server and the (de-obfuscated) client address
    return []


def _ipv6_kind(address: ipaddress.IPv6Address) -> str:
    kinds = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address in IPV4_COMPATIBLE, "an IPv4-compatible address (deprecated)"),
        (address in IPV4_TRANSLATED, "an IPv4-translated address"),
        (address in LOCAL_NAT64, "a local-use NAT64 address"),
        (address.is_link_local, "link-local"),
        (address.is_site_local, "site-local"),
        (address.is_private, "private"),
        (address.is_multicast, "multicast"),
    )
    return next((kind for matches, kind in kinds if matches), "outside global unicast (2000::/3)")


def target(url: str) -> tuple[str, int]:
    """The host and port a URL connects to (the same parsing as the HTTP client's)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise RefusedTarget("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise RefusedTarget("the port must be a number from 0 to 65535") from None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system resolver, in its order, without repeats (a literal is its own)."""
    if literal(host) is not None:
        return [host]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # UnicodeError: not a valid IDNA name
        raise Unresolvable(f"host {host[:SHOWN]} does not resolve ({exc})") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"host {host[:SHOWN]} does not resolve")
    return addresses


def check_addresses(host: str, addresses: Sequence[str]) -> None:
    """Raise `PrivateAddress` unless every address of `host` is public."""
    for text in addresses:
        reason = refusal(ipaddress.ip_address(text))
        if reason is None:
            continue
        said = text if text == host else f"{host[:SHOWN]} resolves to {text}, which"
        raise PrivateAddress(f"refused: {said} is {reason}, not a public address")


def ensure_public_url(url: str) -> None:
    """Refuse a live-mode target when it is set (blocking: the system resolver); `RefusedTarget` says why."""
    host, port = target(url)
    check_addresses(host, resolve(host, port))
