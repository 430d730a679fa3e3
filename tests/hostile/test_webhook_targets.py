"""Issue #10, point 8: live-mode webhook targets are checked when set, in every address form, and pinned.

Only names that resolve on this machine (`localhost`, numeric forms such as `127.1`) or a stand-in resolver are
used: no test looks anything up on the internet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from kassa.webhooks.guard import PrivateAddress, RefusedTarget, Unresolvable, ensure_public_url, refusal
from kassa.webhooks.http import HttpClient
from support import LiveServer, Merchant, merchant
from test_webhooks_delivery import Receiver, emit_event, wait_for_attempts
from test_webhooks_http import OK, read_request, run

PUBLIC_V4 = "93.184.216.34"  # a public address, used as a value only: nothing connects to it

# --- the address rule, on its own ----------------------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("100.64.0.1", "shared"),
    ("0.0.0.0", "unspecified"),  # noqa: S104  # an address under test, not a bind
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
    ("198.18.0.1", "private"),  # benchmarking
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),  # deprecated: refused whatever it embeds
    ("::ffff:127.0.0.1", "IPv6 form of 127.0.0.1, which is loopback"),
    ("::ffff:169.254.169.254", "IPv6 form of 169.254.169.254, which is link-local"),
    ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1, which is private"),
    ("::ffff:0:127.0.0.1", "IPv4-translated"),
    ("64:ff9b::127.0.0.1", "IPv6 form of 127.0.0.1, which is loopback"),
    ("64:ff9b::a9fe:a9fe", "IPv6 form of 169.254.169.254, which is link-local"),
    ("64:ff9b::10.1.1.1", "IPv6 form of 10.1.1.1, which is private"),
    ("64:ff9b:1::808:808", "local-use NAT64"),  # even with a public address inside
    ("2002:7f00:1::1", "IPv6 form of 127.0.0.1, which is loopback"),  # 6to4
    ("2002:a9fe:a9fe::1", "IPv6 form of 169.254.169.254, which is link-local"),
    ("2002:c0a8:101::1", "IPv6 form of 192.168.1.1, which is private"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "IPv6 form of 127.0.0.1, which is loopback"),  # Teredo client
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "IPv6 form of 10.0.0.1, which is private"),  # Teredo server
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "not globally routable"),  # Teredo, public inside: still refused
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("100::1", "private"),  # discard-only
    ("4000::1", "outside global unicast"),  # unassigned space
    ("2001:db8::1", "not globally routable"),  # documentation
]
ALLOWED = [
    "8.8.8.8",
    PUBLIC_V4,
    "1.1.1.1",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_every_form_of_a_non_public_address_is_refused(text: str, reason: str) -> None:
    said = refusal(ipaddress.ip_address(text))
    assert said is not None
    assert reason in said


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_pass(text: str) -> None:
    assert refusal(ipaddress.ip_address(text)) is None


def test_the_gaps_were_real() -> None:
    """The standard library calls these global: `is_global` alone let them through."""
    for text in ("::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "64:ff9b:1::7f00:1", "fec0::1", "224.0.0.1"):
        assert ipaddress.ip_address(text).is_global, text
        assert refusal(ipaddress.ip_address(text)) is not None, text


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/hooks",
        "http://LOCALHOST:3000/x",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://shop.example@127.0.0.1/",  # the host is what follows the @
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[::127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_local_names_and_numeric_forms_resolve_to_what_they_are(url: str) -> None:
    with pytest.raises(PrivateAddress, match="not a public address"):
        ensure_public_url(url)


def test_names_that_do_not_resolve_and_bad_ports_are_refused() -> None:
    with pytest.raises(Unresolvable, match="does not resolve"):
        ensure_public_url("http://a..b/")  # not a valid name: refused before any lookup
    with pytest.raises(RefusedTarget, match="port"):
        ensure_public_url("http://127.0.0.1:99999/")
    ensure_public_url(f"https://{PUBLIC_V4}/hooks")  # a public literal needs no lookup


# --- a stand-in resolver ----------------------------------------------------------------------------------------

REAL_GETADDRINFO = socket.getaddrinfo


class StandInDns:
    """Answers for the names it knows, in turn (the last answer repeats); every other name goes to the real one.

    Installed over `socket.getaddrinfo`, so the server in this process (API and delivery worker) uses it too.
    """

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.lookups.append(host)
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_info(address, int(port)) for address in addresses]


def _info(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> StandInDns:
    stand_in = StandInDns()
    monkeypatch.setattr(socket, "getaddrinfo", stand_in)
    return stand_in


# --- pinning: resolve once, connect to the checked address -------------------------------------------------------


def test_a_connection_resolves_once_and_goes_to_the_resolved_address(dns: StandInDns) -> None:
    seen: list[bytes] = []
    dns.answers["rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]  # a second lookup would answer elsewhere

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(OK)
        await writer.drain()
        writer.close()

    async def body() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop_lookups: list[Any] = []

        async def loop_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
            loop_lookups.append(args)  # asyncio resolving the name itself would be a second lookup
            raise AssertionError("asyncio was asked to resolve a name")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncio.get_running_loop(), "getaddrinfo", loop_getaddrinfo)
            client = HttpClient()
            try:
                result = await client.post(f"http://rebind.test:{port}/hooks", b"{}", {})
            finally:
                await client.aclose()
        async with server:
            pass
        assert result.status_code == 200
        assert loop_lookups == []
        assert f"host: rebind.test:{port}".encode() in seen[0]  # the name stays in the Host header

    run(body())
    assert dns.lookups == ["rebind.test"]
    assert len(seen) == 1


def test_a_rebinding_name_cannot_move_a_live_connection(dns: StandInDns) -> None:
    """Checked public, then it answers loopback: the connection still goes to the checked address (TLS to the
    name), and the name is not looked up again."""
    dns.answers["rebind.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
    connects: list[tuple[Any, ...]] = []

    async def body() -> None:
        async def create_connection(factory: Any, host: Any, port: Any, **kwargs: Any) -> Any:
            connects.append((host, port, kwargs.get("server_hostname"), kwargs.get("ssl") is not None))
            raise ConnectionRefusedError("stand-in: no network in tests")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncio.get_running_loop(), "create_connection", create_connection)
            client = HttpClient()
            try:
                with pytest.raises(ConnectionRefusedError):
                    await client.post("https://rebind.test:8443/hooks", b"{}", {}, public_only=True)
            finally:
                await client.aclose()

    run(body())
    assert connects == [(PUBLIC_V4, 8443, "rebind.test", True)]
    assert dns.lookups == ["rebind.test"]


def test_every_resolved_address_is_checked_before_any_connection(dns: StandInDns) -> None:
    dns.answers["mixed.test"] = [[PUBLIC_V4, "127.0.0.1"]]
    dns.answers["mapped.test"] = [["::ffff:169.254.169.254"]]

    async def body() -> None:
        client = HttpClient()
        try:
            with pytest.raises(PrivateAddress, match=r"mixed\.test resolves to 127\.0\.0\.1, which is loopback"):
                await client.post("http://mixed.test/hooks", b"{}", {}, public_only=True)
            with pytest.raises(PrivateAddress, match=r"169\.254\.169\.254, which is link-local"):
                await client.post("http://mapped.test/hooks", b"{}", {}, public_only=True)
        finally:
            await client.aclose()

    run(body())


def test_the_next_address_is_tried_and_live_never_reuses_a_test_mode_connection(dns: StandInDns) -> None:
    dns.answers["two.test"] = [["127.0.0.2", "127.0.0.1"]]  # nothing listens on 127.0.0.2: refused, then next
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):  # the two test-mode posts, on one kept-alive connection
            await read_request(reader)
            writer.write(OK)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def body() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient()
        try:
            assert (await client.post(f"http://two.test:{port}/hooks", b"{}", {})).status_code == 200
            # The test-mode connection is pooled; a live post to the same origin must not ride on it.
            with pytest.raises(PrivateAddress):
                await client.post(f"http://two.test:{port}/hooks", b"{}", {}, public_only=True)
            assert (await client.post(f"http://two.test:{port}/hooks", b"{}", {})).status_code == 200
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    run(body())
    assert connections == 1  # the second test-mode post reused the first connection
    assert dns.lookups == ["two.test", "two.test"]  # one lookup per new connection, the live one included


# --- through the API and the worker, on both databases ------------------------------------------------------------


@pytest.fixture
def live_shop(live: LiveServer) -> Iterator[Merchant]:
    with merchant(live, name="Live Shop", mode="live") as m:
        yield m
        for endpoint in m.http.get("/api/v1/webhook-endpoints").json()["data"]:
            m.http.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}")


def endpoint_body(url: str) -> dict[str, Any]:
    return {"description": "Orders", "url": url, "enabledEvents": {"events": ["*"]}}


def assert_url_refused(resp: Any, *fragments: str) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert (body["statusCode"], body["error"]) == (400, "Bad Request")
    [message] = body["message"]
    assert message.startswith("url: ")
    for fragment in fragments:
        assert fragment in message


REFUSED_URLS = [
    ("http://127.0.0.1:8080/hooks", "127.0.0.1 is loopback"),
    ("http://localhost/hooks", "localhost resolves to 127.0.0.1, which is loopback"),
    ("http://127.1/", "which is loopback"),
    ("http://2130706433/", "which is loopback"),
    ("http://shop.example@10.1.2.3/", "10.1.2.3 is private"),
    ("http://192.168.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/", "shared"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::1]/", "loopback"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1, which is loopback"),
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254, which is link-local"),
    ("http://[64:ff9b:1::808:808]/", "local-use NAT64"),
    ("http://[2002:7f00:1::1]/", "127.0.0.1, which is loopback"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "127.0.0.1, which is loopback"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[fd00::1]/", "private"),
    ("https://224.0.0.1/", "multicast"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_live_endpoints_refuse_non_public_targets_when_created(live_shop: Merchant, url: str, reason: str) -> None:
    resp = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body(url))
    assert_url_refused(resp, reason, "not a public address")
    assert live_shop.http.get("/api/v1/webhook-endpoints").json()["data"] == []


def test_live_endpoints_refuse_non_public_targets_when_updated(live_shop: Merchant) -> None:
    created = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body(f"https://{PUBLIC_V4}/hooks"))
    assert created.status_code == 200, created.text
    path = f"/api/v1/webhook-endpoints/{created.json()['id']}"
    for url, reason in [("http://localhost:9000/x", "loopback"), ("http://[::ffff:a9fe:a9fe]/", "link-local")]:
        assert_url_refused(live_shop.http.put(path, json={"url": url}), reason)
        assert_url_refused(live_shop.http.put(path, json=endpoint_body(url) | {"description": "x"}), reason)
    after = live_shop.http.get(path).json()
    assert (after["url"], after["description"]) == (f"https://{PUBLIC_V4}/hooks", "Orders")
    # Other fields change without a lookup of the (unchanged) URL.
    assert live_shop.http.put(path, json={"description": "Renamed"}).json()["description"] == "Renamed"


def test_live_names_are_resolved_when_set(live_shop: Merchant, dns: StandInDns) -> None:
    dns.answers["hooks.shop.test"] = [[PUBLIC_V4, "2606:4700:4700::1111"]]
    dns.answers["intranet.shop.test"] = [[PUBLIC_V4, "10.0.0.7"]]  # one private address is enough to refuse
    dns.answers["gone.shop.test"] = [[]]
    ok = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("https://hooks.shop.test/kassa"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["livemode"] is True
    resp = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("https://intranet.shop.test/k"))
    assert_url_refused(resp, "intranet.shop.test resolves to 10.0.0.7, which is private")
    resp = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("https://gone.shop.test/k"))
    assert_url_refused(resp, "host gone.shop.test does not resolve")
    resp = live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("https://a..b/k"))
    assert_url_refused(resp, "does not resolve")
    assert_url_refused(live_shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("http://x:99999/")), "port")
    assert dns.lookups == ["hooks.shop.test", "intranet.shop.test", "gone.shop.test"]


def test_test_mode_endpoints_may_still_point_at_a_developer_machine(shop: Merchant) -> None:
    resp = shop.http.post("/api/v1/webhook-endpoints", json=endpoint_body("http://localhost:3000/hooks"))
    assert resp.status_code == 200, resp.text
    shop.http.delete(f"/api/v1/webhook-endpoints/{resp.json()['id']}")


def test_a_name_that_turns_private_after_it_was_checked_is_refused_at_delivery(
    live: LiveServer, live_shop: Merchant, dns: StandInDns
) -> None:
    """Public when set, loopback (where a receiver listens) at delivery: the worker checks what it connects to."""
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        dns.answers["rebind.shop.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
        resp = live_shop.http.post(
            "/api/v1/webhook-endpoints", json=endpoint_body(f"http://rebind.shop.test:{port}/hooks")
        )
        assert resp.status_code == 200, resp.text
        event_id = emit_event(live, live_shop)
        delivery = wait_for_attempts(live_shop, event_id, resp.json()["id"], 1)
        assert receiver.received() == []
    [attempt] = delivery["attempts"]
    assert attempt["succeeded"] is False
    assert "rebind.shop.test resolves to 127.0.0.1, which is loopback, not a public address" in attempt["error"]
    assert dns.lookups == ["rebind.shop.test", "rebind.shop.test"]  # once when set, once for the connection
