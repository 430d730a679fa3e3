"""Point 6: the dev chain runs only when asked, and while it runs its public JSON-RPC surface is locked down.

Everything goes over HTTP to the live server (SQLite and PostgreSQL), as a wallet would: contracts are deployed
with eth_sendRawTransaction, signed by a fresh account that the in-process faucet funded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from eth_account import Account
from eth_account.signers.local import LocalAccount

import kassa.chains.devnet as devnet_module
import kassa.cli
import kassa.db.migrate
import kassa.server
from kassa.api.runtime import Runtime
from kassa.app import create_app
from kassa.chains.contracts import call_data
from kassa.chains.devnet import FAUCET_BURST, FAUCET_PER_MINUTE, GAS_CAP, MAX_BATCH, RpcError, time_limit
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.config import Settings, load_settings
from kassa.ratelimit import TokenBuckets
from support import Backend, LiveServer, Merchant, fresh_database_url, merchant, start_server

# Runtime codes, deployed as is: an endless loop (JUMPDEST PUSH1 0 JUMP); one that returns the gas it was given
# (GAS PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN).
ENDLESS_LOOP = bytes.fromhex("5b600056")
GAS_LEFT = bytes.fromhex("5a60005260206000f3")


# --- a minimal wallet over HTTP -------------------------------------------------------------------------


def call(live: LiveServer, method: str, *params: Any) -> dict[str, Any]:
    with live.client() as anonymous:
        resp = anonymous.post("/devnet/rpc", json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert answer["id"] == 7
    return answer


def result(live: LiveServer, method: str, *params: Any) -> Any:
    answer = call(live, method, *params)
    assert "result" in answer, answer
    return answer["result"]


def refused(live: LiveServer, method: str, *params: Any) -> dict[str, Any]:
    answer = call(live, method, *params)
    assert "result" not in answer, answer
    error: dict[str, Any] = answer["error"]
    return error


def send(live: LiveServer, sender: LocalAccount, *, to: str | None, data: bytes = b"", value: int = 0, gas: int) -> str:
    """Sign a transaction the way a wallet does and send it raw; returns its hash."""
    fee = int(result(live, "eth_gasPrice"), 16)
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": int(result(live, "eth_chainId"), 16),
        "nonce": int(result(live, "eth_getTransactionCount", sender.address, "latest"), 16),
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 2 * fee,
        "maxPriorityFeePerGas": int(result(live, "eth_maxPriorityFeePerGas"), 16),
    }
    if to is not None:
        tx["to"] = to
    signed = sender.sign_transaction(tx)
    tx_hash: str = result(live, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    return tx_hash


def receipt(live: LiveServer, tx_hash: str) -> dict[str, Any]:
    found: dict[str, Any] = result(live, "eth_getTransactionReceipt", tx_hash)  # mined on send
    return found


def deploy(live: LiveServer, sender: LocalAccount, runtime_code: bytes) -> str:
    """Init code that returns `runtime_code` (CODECOPY it to memory, RETURN it)."""
    size = len(runtime_code)
    init = bytes([0x61, size >> 8, size & 0xFF, 0x80, 0x61, 0, 13, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + runtime_code
    mined = receipt(live, send(live, sender, to=None, data=init, gas=200_000))
    assert mined["status"] == "0x1", mined
    address: str = mined["contractAddress"]
    assert result(live, "eth_getCode", address, "latest") == "0x" + runtime_code.hex()
    return address


@pytest.fixture
def wallet(live: LiveServer) -> LocalAccount:
    account: LocalAccount = Account.create()
    live.devnet.fund(account.address, 10, "eth")  # in process: the tests' faucet, not the rate-limited one
    return account


# --- the allowlist --------------------------------------------------------------------------------------


REFUSED = [
    "eth_sendTransaction",
    "eth_sign",
    "evm_snapshot",
    "evm_revert",
    "evm_mine",
    "testing_timeTravel",
    "personal_unlockAccount",
    "eth_newBlockFilter",
    "debug_traceTransaction",
    "no_such_method",
]


@pytest.mark.parametrize("method", REFUSED)
def test_methods_outside_the_allowlist_are_refused_as_not_found(live: LiveServer, method: str) -> None:
    unlocked = live.devnet.accounts[0]
    stranger = Account.create().address
    examples: dict[str, list[Any]] = {
        "eth_sendTransaction": [{"from": unlocked, "to": stranger, "value": hex(10**18)}],
        "eth_sign": [unlocked, "0x00"],
        "evm_revert": ["0x1"],
        "testing_timeTravel": [2_000_000_000],
        "personal_unlockAccount": [unlocked, "", 0],
        "debug_traceTransaction": ["0x" + "00" * 32],
    }
    params = examples.get(method, [])
    error = refused(live, method, *params)
    assert error["code"] == -32601
    assert method in error["message"]
    assert result(live, "eth_getBalance", stranger, "latest") == "0x0"  # nothing was sent from an unlocked account


def test_eth_accounts_offers_no_unlocked_account(live: LiveServer) -> None:
    assert result(live, "eth_accounts") == []


def test_a_wallet_pays_over_the_allowlisted_methods(live: LiveServer, wallet: LocalAccount) -> None:
    usdc = live.devnet.contracts.usdc
    live.devnet.fund(wallet.address, 50, "usdc")
    merchant_address = Account.create().address
    transfer = call_data("transfer(address,uint256)", ["address", "uint256"], [merchant_address, 12_345_678])
    estimate = int(
        result(live, "eth_estimateGas", {"from": wallet.address, "to": usdc, "data": "0x" + transfer.hex()}), 16
    )
    assert 21_000 < estimate < 100_000
    tx_hash = send(live, wallet, to=usdc, data=transfer, gas=estimate)
    mined = receipt(live, tx_hash)
    assert mined["status"] == "0x1", mined
    balance_of = call_data("balanceOf(address)", ["address"], [merchant_address])
    balance = result(live, "eth_call", {"to": usdc, "data": "0x" + balance_of.hex()}, "latest")
    assert int(balance, 16) == 12_345_678
    logs = result(
        live, "eth_getLogs", {"address": usdc, "fromBlock": mined["blockNumber"], "toBlock": mined["blockNumber"]}
    )
    assert [log["transactionHash"] for log in logs] == [tx_hash]
    assert result(live, "eth_getTransactionByHash", tx_hash)["from"].lower() == wallet.address.lower()
    block = result(live, "eth_getBlockByNumber", mined["blockNumber"], False)
    assert result(live, "eth_getBlockByHash", block["hash"], False)["number"] == mined["blockNumber"]
    plain = Account.create().address
    assert receipt(live, send(live, wallet, to=plain, value=3 * 10**15, gas=21_000))["status"] == "0x1"
    assert int(result(live, "eth_getBalance", plain, "latest"), 16) == 3 * 10**15
    # What wallets read before they show a confirmation:
    assert result(live, "eth_chainId") == hex(DEV_CHAIN_ID)
    assert result(live, "net_version") == str(DEV_CHAIN_ID)
    reads: list[tuple[str, list[Any]]] = [
        ("eth_blockNumber", []),
        ("eth_feeHistory", ["0x4", "latest", []]),
        ("eth_getCode", [usdc, "latest"]),
        ("web3_clientVersion", []),
    ]
    for method, params in reads:
        result(live, method, *params)


# --- batches --------------------------------------------------------------------------------------------


def batch(live: LiveServer, size: int) -> Any:
    calls = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []} for i in range(size)]
    with live.client() as anonymous:
        resp = anonymous.post("/devnet/rpc", json=calls)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_batch_of_up_to_the_cap_is_answered_call_by_call(live: LiveServer) -> None:
    answers = batch(live, MAX_BATCH)
    assert [a["id"] for a in answers] == list(range(MAX_BATCH))
    assert {a["result"] for a in answers} == {hex(DEV_CHAIN_ID)}


@pytest.mark.parametrize("size", [MAX_BATCH + 1, 1000, 0])
def test_a_batch_over_the_cap_or_empty_gets_one_error_and_runs_nothing(live: LiveServer, size: int) -> None:
    answer = batch(live, size)
    assert isinstance(answer, dict), answer  # one error object, not one answer per call
    assert answer["error"]["code"] == -32600
    assert f"1 to {MAX_BATCH} calls" in answer["error"]["message"]


# --- gas and time ---------------------------------------------------------------------------------------


def test_eth_call_gas_is_capped_when_asked_for_more_and_when_omitted(live: LiveServer, wallet: LocalAccount) -> None:
    probe = deploy(live, wallet, GAS_LEFT)
    for asked in ({"gas": hex(50 * GAS_CAP)}, {}):
        given = int(result(live, "eth_call", {"to": probe} | asked, "latest"), 16)
        assert GAS_CAP - 100_000 < given <= GAS_CAP, given
    below = int(result(live, "eth_call", {"to": probe, "gas": hex(100_000)}, "latest"), 16)
    assert below <= 100_000  # a smaller gas stays as asked
    assert result(live, "eth_getBlockByNumber", "latest", False)["gasLimit"] == hex(GAS_CAP)
    error = refused(live, "eth_call", {"to": probe, "gas": "lots"}, "latest")
    assert error["code"] == -32602


def test_an_endless_loop_stops_at_the_limits_with_an_error(live: LiveServer, wallet: LocalAccount) -> None:
    loop = deploy(live, wallet, ENDLESS_LOOP)
    for params in ([{"to": loop}, "latest"], [{"to": loop, "gas": hex(50 * GAS_CAP)}, "latest"]):
        error = refused(live, "eth_call", *params)
        assert error["code"] == -32000
        assert "Out of gas" in error["message"] or "time limit" in error["message"], error
    error = refused(live, "eth_estimateGas", {"from": wallet.address, "to": loop})
    assert "Out of gas" in error["message"] or "time limit" in error["message"], error
    # As a signed transaction: mined, failed, and the chain goes on.
    failed = receipt(live, send(live, wallet, to=loop, gas=GAS_CAP))
    assert failed["status"] == "0x0"
    assert int(failed["gasUsed"], 16) == GAS_CAP  # all of it burnt: out of gas or out of time
    assert receipt(live, send(live, wallet, to=Account.create().address, value=1, gas=21_000))["status"] == "0x1"


def test_an_execution_past_its_deadline_fails_as_out_of_gas(live: LiveServer) -> None:
    """The time limit itself, in process: a deadline already passed stops a call at its first jump."""
    balance_of = call_data("balanceOf(address)", ["address"], [live.devnet.accounts[0]])
    query = {"to": live.devnet.contracts.usdc, "data": "0x" + balance_of.hex()}
    with live.devnet.lock, time_limit(0.0), pytest.raises(RpcError, match="time limit"):
        live.devnet.rpc("eth_call", [query, "latest"])
    assert int(result(live, "eth_call", query, "latest"), 16) > 0  # the same call, in time


def test_a_transaction_past_its_time_limit_is_mined_as_failed(
    live: LiveServer, wallet: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.devnet.fund(wallet.address, 5, "usdc")
    transfer = call_data("transfer(address,uint256)", ["address", "uint256"], [Account.create().address, 1])
    with monkeypatch.context() as patch:
        patch.setattr(devnet_module, "EVM_SECONDS", 0.0)  # every transaction is out of time at its first jump
        failed = receipt(live, send(live, wallet, to=live.devnet.contracts.usdc, data=transfer, gas=100_000))
    assert (failed["status"], int(failed["gasUsed"], 16)) == ("0x0", 100_000)
    assert (
        receipt(live, send(live, wallet, to=live.devnet.contracts.usdc, data=transfer, gas=100_000))["status"] == "0x1"
    )


def test_a_transaction_asking_for_more_gas_than_the_cap_is_refused(live: LiveServer, wallet: LocalAccount) -> None:
    nonce = int(result(live, "eth_getTransactionCount", wallet.address, "latest"), 16)
    tx: dict[str, Any] = {"chainId": DEV_CHAIN_ID, "nonce": nonce, "to": wallet.address, "value": 0}
    signed = wallet.sign_transaction(
        tx | {"gas": GAS_CAP + 1, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}
    )
    refused(live, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    assert result(live, "eth_getTransactionCount", wallet.address, "latest") == hex(nonce)  # nothing was mined


def test_precompiles_too_slow_to_bound_are_refused_and_the_others_work(live: LiveServer) -> None:
    blake2f_input = (12).to_bytes(4, "big") + bytes(208) + b"\x01"  # 12 rounds, a valid 213-byte input
    error = refused(live, "eth_call", {"to": "0x" + "00" * 19 + "09", "data": "0x" + blake2f_input.hex()}, "latest")
    assert "disabled on the Kassa dev chain" in error["message"]
    pairing = refused(live, "eth_call", {"to": "0x" + "00" * 19 + "08", "data": "0x"}, "latest")
    assert "disabled on the Kassa dev chain" in pairing["message"]
    digest = result(live, "eth_call", {"to": "0x" + "00" * 19 + "02", "data": "0x6b61737361"}, "latest")
    assert digest == "0x" + hashlib.sha256(b"kassa").hexdigest()


# --- the faucet -----------------------------------------------------------------------------------------


@pytest.fixture
def fresh_faucet(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own limits on a stopped clock (no refill during the test); the shared bucket comes back after."""
    buckets = TokenBuckets(FAUCET_PER_MINUTE / 60, FAUCET_BURST, now=lambda: 0.0)
    monkeypatch.setattr(live.devnet, "faucet_limit", buckets)


def test_the_keyless_faucet_is_rate_limited_per_client(live: LiveServer, shop: Merchant, fresh_faucet: None) -> None:
    wallet = Account.create().address
    body = {"address": wallet, "amount": 1, "currency": "eth"}
    with live.client() as anonymous:
        granted = [anonymous.post("/devnet/fund", json=body) for _ in range(FAUCET_BURST)]
        assert [r.status_code for r in granted] == [200] * FAUCET_BURST, granted[-1].text
        limited = anonymous.post("/devnet/fund", json=body)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == str(60 // FAUCET_PER_MINUTE)  # one turn back, in whole seconds
        assert limited.json() == {
            "message": "Too many faucet requests from this address: retry after the Retry-After seconds",
            "statusCode": 429,
            "error": "Too Many Requests",
        }
        typo = anonymous.post("/devnet/fund", json=body | {"currency": "btc"})
        assert typo.status_code == 400  # an invalid request is answered as such, and takes no turn
    assert int(result(live, "eth_getBalance", wallet, "latest"), 16) == FAUCET_BURST * 10**18
    # The keyed faucet answers to the API key's own request limit instead.
    assert shop.http.post("/api/v1/devnet/fund", json=body).status_code == 200


# --- off unless asked -----------------------------------------------------------------------------------


def test_embedded_mode_leaves_the_dev_chain_off_unless_asked(tmp_path: Path) -> None:
    settings = load_settings({"KASSA_DATA_DIR": str(tmp_path)})
    assert settings.devnet is False
    assert load_settings({"KASSA_DEVNET": "0"}).devnet is False
    assert load_settings({"KASSA_DEVNET": "1"}).devnet is True
    runtime: Runtime = create_app(settings, embedded=True).state.runtime  # what `kassa serve` builds
    assert runtime.devnet is None
    assert runtime.chains.get(DEV_CHAIN_ID) is None
    runtime.db.dispose()


@pytest.mark.parametrize(("args", "expected"), [(["serve"], False), (["serve", "--devnet"], True)])
def test_kassa_serve_runs_the_dev_chain_only_with_devnet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: bool
) -> None:
    served: list[Settings] = []
    monkeypatch.setattr(kassa.server, "run_server", lambda settings, *_a, **_k: served.append(settings))
    monkeypatch.setattr(kassa.db.migrate, "upgrade", lambda _url: None)
    monkeypatch.setattr(kassa.cli, "configure_logging", lambda *_a, **_k: None)
    outcome = CliRunner().invoke(kassa.cli.main, args, env={"KASSA_DATA_DIR": str(tmp_path), "KASSA_DEVNET": None})
    assert outcome.exit_code == 0, outcome.output
    assert [s.devnet for s in served] == [expected]


@pytest.fixture
def server_without_devnet(backend: Backend, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(backend, fresh_database_url(backend, tmp_path, "no_devnet"), data_dir=tmp_path, devnet=False)
    yield server
    server.stop()


def test_a_server_without_the_dev_chain_serves_none_of_it(server_without_devnet: LiveServer) -> None:
    server = server_without_devnet
    assert server.runtime.devnet is None
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    fund = {"address": "0x" + "c4" * 20, "amount": 1, "currency": "eth"}
    with server.client() as anonymous, merchant(server) as shop:
        answers: list[httpx.Response] = [
            anonymous.post("/devnet/rpc", json=rpc),
            anonymous.options("/devnet/rpc"),
            anonymous.post("/devnet/fund", json=fund),
            shop.http.post("/api/v1/devnet/fund", json=fund),
        ]
        chains = shop.http.get("/api/v1/chains", params={"limit": 100}).json()["data"]
    for resp in answers:
        assert resp.status_code == 404, resp.text
        assert resp.json()["message"].startswith("The dev chain is not running on this server")
    assert DEV_CHAIN_ID not in {c["id"] for c in chains}
