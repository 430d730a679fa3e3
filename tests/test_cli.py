from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from support import LiveServer


def kassa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_org_create_json_and_key_lifecycle(live: LiveServer, tmp_path: Path) -> None:
    env = os.environ | {"KASSA_DATABASE_URL": live.settings.database_url, "KASSA_DATA_DIR": str(tmp_path)}
    created = kassa(env, "org", "create", "CLI Shop", "--json")
    assert created.returncode == 0, created.stderr
    payload = json.loads(created.stdout)  # exactly one JSON object on stdout
    assert set(payload) == {"organizationId", "apiKey"}
    assert payload["apiKey"].startswith("kassa_sk_test_")

    with live.client(payload["apiKey"]) as http:
        org = http.get("/api/v1/organization").json()
    assert org["id"] == payload["organizationId"]
    assert org["name"] == "CLI Shop"

    live_key = kassa(env, "apikey", "create", payload["organizationId"], "--live", "--json")
    assert live_key.returncode == 0, live_key.stderr
    issued = json.loads(live_key.stdout)
    assert issued["apiKey"].startswith("kassa_sk_live_")

    listed = json.loads(kassa(env, "apikey", "list", payload["organizationId"], "--json").stdout)
    assert {k["mode"] for k in listed} == {"test", "live"}
    assert all(payload["apiKey"] not in json.dumps(k) for k in listed)  # secrets are never shown again

    revoked = kassa(env, "apikey", "revoke", issued["id"])
    assert revoked.returncode == 0, revoked.stderr
    with live.client(issued["apiKey"]) as http:
        assert http.get("/api/v1/organization").status_code == 401


def test_org_create_live(live: LiveServer, tmp_path: Path) -> None:
    env = os.environ | {"KASSA_DATABASE_URL": live.settings.database_url, "KASSA_DATA_DIR": str(tmp_path)}
    payload = json.loads(kassa(env, "org", "create", "Live Shop", "--live", "--json").stdout)
    assert payload["apiKey"].startswith("kassa_sk_live_")


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    env = os.environ | {"KASSA_DATABASE_URL": "mysql://nope", "KASSA_DATA_DIR": str(tmp_path)}
    result = kassa(env, "migrate")
    assert result.returncode != 0
    assert "KASSA_DATABASE_URL" in result.stderr


def test_serve_starts_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """The embedded default: no configuration at all but a data directory, SQLite made and migrated on start."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")} | {"KASSA_DATA_DIR": str(tmp_path)}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kassa", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert resp.json() == {"status": "ok"}
        assert (tmp_path / "kassa.db").exists()
        created = kassa(env, "org", "create", "Fresh", "--json")
        key = json.loads(created.stdout)["apiKey"]
        org = httpx.get(f"http://127.0.0.1:{port}/api/v1/organization", headers={"Authorization": f"Bearer {key}"})
        assert org.json()["name"] == "Fresh"
        output = log_path.read_text().splitlines()
        # One human line first: where, what, on which database, chains, dev chain, docs.
        assert output[0] == (
            f"kassa serve (embedded: API, jobs and chain watchers in one process) at http://127.0.0.1:{port}"
            f" | database sqlite:///{tmp_path}/kassa.db | chains: none enabled | dev chain off"
            f" | docs http://127.0.0.1:{port}/docs"
        )
        # Not a terminal, so the logs are JSON lines.
        requests = [json.loads(line) for line in output if line.startswith("{")]
        assert {"path": "/api/v1/organization", "status": 200, "level": "info"}.items() <= requests[-1].items()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deploy_factory_on_anvil(tmp_path: Path) -> None:
    from chain_harness import AnvilChain
    from kassa.chains.contracts import BUILD_DIR

    chain = AnvilChain()
    try:
        env = os.environ | {
            "KASSA_DATA_DIR": str(tmp_path),
            # anvil's first dev account (a well-known test key)
            "DEPLOYER_KEY": "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        }
        result = kassa(
            env,
            "chain",
            "deploy-factory",
            "--rpc-url",
            str(chain.chain.rpc_url),
            "--private-key-env",
            "DEPLOYER_KEY",
            "--json",
        )
        assert result.returncode == 0, result.stderr
        address = json.loads(result.stdout)["factoryAddress"]
        code = chain.rpc.call("eth_getCode", [address, "latest"])
        deployed = json.loads((BUILD_DIR / "KassaForwarderFactory.json").read_text())["deployedBytecode"]
        assert code.lower() == deployed.lower()
        missing = kassa(
            env,
            "chain",
            "deploy-factory",
            "--rpc-url",
            str(chain.chain.rpc_url),
            "--private-key-env",
            "NOT_SET_ANYWHERE",
        )
        assert missing.returncode != 0
        assert "NOT_SET_ANYWHERE" in missing.stderr
    finally:
        chain.close()


def test_devnet_fund_command(live: LiveServer, tmp_path: Path) -> None:
    env = os.environ | {"KASSA_DATA_DIR": str(tmp_path)}
    wallet = "0x" + "d3" * 20
    result = kassa(env, "devnet", "fund", wallet, "3", "usdt", "--url", live.base_url)
    assert result.returncode == 0, result.stderr
    tx = result.stdout.strip()
    receipt = live.devnet.rpc("eth_getTransactionReceipt", [tx])
    assert receipt["status"] == "0x1"
