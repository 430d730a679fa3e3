"""Log format (console at a terminal, JSON otherwise) and the level of each request's log line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from starlette.types import Receive, Scope, Send

from kassa.api.middleware import RequestIdMiddleware
from kassa.config import ConfigError, load_settings
from kassa.logs import configure_logging


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"KASSA_DATA_DIR": str(tmp_path), **extra}


@pytest.mark.parametrize(
    ("log_format", "terminal", "json_lines"),
    [
        (None, True, False),  # a person at a terminal reads console lines
        (None, False, True),  # a service, a pipe or a file gets JSON
        ("json", True, True),  # the variable wins over the terminal
        ("console", False, False),
        ("JSON", True, True),
    ],
)
def test_log_format_follows_the_terminal_unless_set(
    tmp_path: Path, log_format: str | None, terminal: bool, json_lines: bool
) -> None:
    env = _env(tmp_path) if log_format is None else _env(tmp_path, KASSA_LOG_FORMAT=log_format)
    assert load_settings(env, terminal=terminal).log_json is json_lines


def test_an_unknown_log_format_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KASSA_LOG_FORMAT must be json or console"):
        load_settings(_env(tmp_path, KASSA_LOG_FORMAT="xml"), terminal=False)


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _request(method: str, path: str) -> None:
    """One request through the request-log middleware (asyncio.run on a thread of its own: the browser tests keep
    an event loop running on the main thread)."""

    async def call() -> None:
        transport = httpx.ASGITransport(app=RequestIdMiddleware(_ok))
        async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
            assert (await client.request(method, path)).status_code == 200

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call()).result()


@pytest.fixture
def captured() -> Iterator[list[MutableMapping[str, Any]]]:
    configure_logging("DEBUG")
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        configure_logging("WARNING")  # as tests/conftest.py sets it for the session


def test_dev_chain_rpc_requests_log_at_debug_others_at_info(captured: list[MutableMapping[str, Any]]) -> None:
    _request("POST", "/devnet/rpc")
    _request("GET", "/api/v1/organization")
    levels = {entry["path"]: entry["log_level"] for entry in captured if entry["event"] == "request"}
    assert levels == {"/devnet/rpc": "debug", "/api/v1/organization": "info"}


def test_at_info_the_dev_chain_rpc_requests_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        _request("POST", "/devnet/rpc")
        _request("GET", "/healthz")
    finally:
        configure_logging("WARNING")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert '"path": "/healthz"' in lines[0]
