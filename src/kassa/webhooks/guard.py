"""Live-mode webhooks go to the public internet only (a first guard against SSRF).

A merchant's endpoint URL is fetched by Kassa's own machines, so an endpoint pointing at loopback, a private
network, link-local addresses (cloud metadata services) or other reserved ranges could reach what only Kassa
should. Live-mode endpoints are refused there; test-mode endpoints may point at a developer's own machine.
The check resolves the host just before the request; a host that re-resolves between the check and the
connection (DNS rebinding) is not covered — connecting to the checked address is the follow-up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class PrivateAddress(Exception):  # the attempt's recorded error says it all
    pass


async def ensure_public(url: str) -> None:
    host = urlsplit(url).hostname or ""
    port = urlsplit(url).port or (443 if url.startswith("https") else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PrivateAddress(f"cannot resolve {host}: {exc}") from exc
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise PrivateAddress(f"refused: {host} resolves to {address}, which is not a public address")
