"""The webhook HTTP client on its own, against raw servers on loopback that misbehave on purpose."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kassa.webhooks.http import HttpClient, PostResult

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a thread of its own: the browser tests keep an event loop running on the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


async def serve(
    handler: Handler, body: Callable[[str], Awaitable[None]], ssl_context: ssl.SSLContext | None = None
) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await body(f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}/hooks")


def test_connections_are_kept_alive_and_a_stale_one_is_replaced() -> None:
    connections = 0
    requests: list[bytes] = []

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                requests.append(await read_request(reader))
                writer.write(OK)
                if len(requests) >= 3:
                    # Answer as if the connection stayed open, then drop it: the client's pooled one goes stale.
                    await writer.drain()
                    writer.close()
                    return
        except asyncio.IncompleteReadError:
            writer.close()

    async def body(url: str) -> None:
        client = HttpClient()
        try:
            results = [await client.post(url, b"{}", {"x-n": str(i)}) for i in range(5)]
        finally:
            await client.aclose()
        assert [r.status_code for r in results] == [200] * 5

    run(serve(keep_alive, body))
    assert len(requests) == 5
    assert connections == 3  # one for the first three; after each drop, a new one (the POST was not lost)


def test_credentials_in_the_url_become_basic_auth_and_the_host_header_is_right() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def body(url: str) -> None:
        client = HttpClient()
        try:
            result = await client.post(url.replace("http://", "http://shop%40x:p%3Ass@") + "?a=1", b"{}", {})
        finally:
            await client.aclose()
        assert result == PostResult(201, b"abc", truncated=False)

    run(serve(handler, body))
    [request] = seen
    assert request.startswith(b"POST /hooks?a=1 HTTP/1.1\r\n")
    assert b"authorization: Basic " + base64.b64encode(b"shop@x:p:ss") in request
    assert b"host: 127.0.0.1:" in request
    assert b"user-agent: Kassa-Webhooks/" in request


def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            writer.write(OK)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def body(url: str) -> None:
        untrusting = HttpClient()
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await untrusting.post(url, b"{}", {})
        finally:
            await untrusting.aclose()
        trusting = HttpClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
        try:
            assert (await trusting.post(url, b"{}", {})).status_code == 200
        finally:
            await trusting.aclose()

    run(serve(handler, body, server_context))


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/relative", "https://"])
def test_only_absolute_http_urls(url: str) -> None:
    async def body() -> None:
        client = HttpClient()
        with pytest.raises(ValueError, match="absolute"):
            await client.post(url, b"{}", {})

    run(body())


def test_live_posts_may_not_reach_private_networks() -> None:
    from kassa.webhooks.guard import PrivateAddress

    async def body() -> None:
        client = HttpClient()
        try:
            for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/x", "http://[::1]/"):
                with pytest.raises(PrivateAddress):
                    await client.post(url, b"{}", {}, public_only=True)
        finally:
            await client.aclose()

    run(body())
