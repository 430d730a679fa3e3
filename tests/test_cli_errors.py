"""The `kassa` command's error paths: each is one clear line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from support import Backend, LiveServer, free_port, fresh_database_url, start_server

UNKNOWN = str(uuid.UUID("01900000-0000-7000-8000-000000000000"))
DEPLOYER_KEY = "0x" + "ab" * 32


def kassa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def environment(tmp_path: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")} | {"KASSA_DATA_DIR": str(tmp_path)}
    if database_url is not None:
        env["KASSA_DATABASE_URL"] = database_url
    return env | extra


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line the command printed, after checking that it failed cleanly."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("apikey", "create", UNKNOWN), "Error: Organization not found"),
        (("apikey", "create", UNKNOWN, "--live", "--json"), "Error: Organization not found"),
        (("apikey", "list", UNKNOWN), "Error: Organization not found"),
        (("apikey", "revoke", UNKNOWN), f"Error: No API key {UNKNOWN}"),
    ],
    ids=["create", "create-json", "list", "revoke"],
)
def test_unknown_organization_or_key(live: LiveServer, tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = kassa(environment(tmp_path, live.settings.database_url), *args)
    assert error_line(result) == expected


def test_database_without_tables(backend: Backend, tmp_path: Path) -> None:
    empty = fresh_database_url(backend, tmp_path, "no_tables")
    line = error_line(kassa(environment(tmp_path, empty), "apikey", "list", UNKNOWN))
    assert line.startswith("Error: database error: ")
    assert "organizations" in line  # the missing table, as the database names it
    assert line.endswith("(check KASSA_DATABASE_URL; `kassa migrate` creates the tables)")


@pytest.mark.parametrize("args", [("migrate",), ("org", "create", "Shop"), ("apikey", "revoke", UNKNOWN)])
def test_database_that_cannot_be_reached(tmp_path: Path, args: tuple[str, ...]) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/kassa"
    line = error_line(kassa(environment(tmp_path, closed), *args))
    assert line.startswith("Error: database error: connection failed: ")
    assert "Connection refused" in line


def test_deploy_factory_with_no_chain_at_the_rpc_url(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path, DEPLOYER=DEPLOYER_KEY)
    result = kassa(
        env, "chain", "deploy-factory", "--rpc-url", f"http://127.0.0.1:{port}", "--private-key-env", "DEPLOYER"
    )
    assert (
        error_line(result) == f"Error: deployment failed: cannot reach the chain at 127.0.0.1:{port} (ConnectionError)"
    )


def test_deploy_factory_without_a_key(tmp_path: Path) -> None:
    result = kassa(
        environment(tmp_path), "chain", "deploy-factory", "--rpc-url", "http://127.0.0.1:9", "--private-key-env", "NOPE"
    )
    assert error_line(result) == "Error: the environment variable NOPE is empty or unset"


def test_devnet_fund_when_no_server_runs(tmp_path: Path) -> None:
    port = free_port()
    fund = ("devnet", "fund", "0x" + "12" * 20, "5", "usdc")
    by_option = error_line(kassa(environment(tmp_path), *fund, "--url", f"http://127.0.0.1:{port}"))
    assert by_option.startswith(f"Error: cannot reach http://127.0.0.1:{port}: ")
    assert "Connection refused" in by_option
    by_setting = error_line(kassa(environment(tmp_path, KASSA_PUBLIC_URL=f"http://127.0.0.1:{port}"), *fund))
    assert by_setting == by_option


def test_devnet_fund_on_a_server_without_the_dev_chain(tmp_path: Path) -> None:
    server = start_server("sqlite", fresh_database_url("sqlite", tmp_path, "nodev"), data_dir=tmp_path, devnet=False)
    try:
        line = error_line(
            kassa(environment(tmp_path), "devnet", "fund", "0x" + "12" * 20, "5", "usdc", "--url", server.base_url)
        )
    finally:
        server.stop()
    assert line == f"Error: {server.base_url} runs no dev chain (start it with `kassa serve --devnet`)"


def test_devnet_fund_refused_prints_the_servers_messages(live: LiveServer, tmp_path: Path) -> None:
    result = kassa(environment(tmp_path), "devnet", "fund", "0x12", "5", "usdc", "--url", live.base_url)
    # The field errors, as the API words them: not the raw JSON body, nor pydantic's text.
    assert error_line(result) == "Error: 400: address: must be an EVM address: 0x followed by 40 hex digits"


def test_faucet_answers_bad_bodies_in_the_api_error_shape(live: LiveServer) -> None:
    """What `kassa devnet fund` prints is the keyless faucet's answer: field errors, never pydantic's own text."""
    with live.client() as http:
        not_an_object = http.post("/devnet/fund", json=[{"address": "0x12"}])
        bad_fields = http.post("/devnet/fund", json={"address": "0x" + "12" * 20, "amount": 0, "currency": "btc"})
    assert not_an_object.status_code == 400
    assert not_an_object.json()["message"] == ["body: must be a JSON object"]
    assert bad_fields.status_code == 400
    messages = bad_fields.json()["message"]
    assert [m.split(":")[0] for m in messages] == ["amount", "currency"]
    assert not any("pydantic" in m or "FundIn" in m for m in messages)
