"""The built-in dev chain: a real EVM (py-evm through eth-tester) in this process, served as JSON-RPC.

Accounts come from the usual dev mnemonic and hold 10,000 ETH and 1,000,000 test USDC and USDT each. The test
tokens, the Kassa forwarder factory and two price feeds (EUR/USD at 1.08, USDC/USD at 1.00) are deployed at
start. Blocks are mined on every transaction and on a timer, so confirmations advance. The chain lives in
memory: a restart starts a new chain with a new genesis (its timestamp is the start time), which the watcher
notices and rescans.

`eth_getLogs` is answered from our own index of logs by block: eth-tester's own filter walks every
transaction in the range, which made 200-block scans take seconds.

The chain runs only when asked (`kassa serve --devnet`, KASSA_DEVNET=1). Its HTTP JSON-RPC surface (`serve`) is
locked down: the methods a wallet needs and nothing that unlocks accounts or changes the chain outside a signed
transaction; gas and time limits on every EVM execution, since py-evm is a Python interpreter (docs/payments.md).
Kassa's own code and the tests call `rpc`, `fund`, `snapshot`, `revert` and `mine` in process, without the allowlist.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth.abc import ComputationAPI, OpcodeAPI, SignedTransactionAPI
from eth.exceptions import OutOfGas, VMError
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth.vm.opcode import Opcode
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils.address import to_checksum_address
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint

from kassa.chains.contracts import artifact, call_data
from kassa.chains.registry import DEV_CHAIN_ID, Asset, Chain, PriceFeed
from kassa.ratelimit import TokenBuckets
from kassa.recursion import restore_recursion_limit

restore_recursion_limit()  # the Ethereum libraries above raise it past what the C stack holds

MNEMONIC = "test test test test test test test test test test test junk"
HD_PATH = "m/44'/60'/0'/0"
ACCOUNTS = 10
ETH = 10**18
START_ETH = 10_000 * ETH
START_TOKENS = 1_000_000  # whole tokens per account and token
TOKEN_DECIMALS = 6
# The dev chain's Chainlink-style feeds (TestPriceFeed): 8 decimals, as Chainlink's X/USD feeds have.
FEED_DECIMALS = 8
EUR_USD = 108_000_000  # 1.08
USDC_USD = 100_000_000  # 1.00
Account.enable_unaudited_hdwallet_features()

# --- limits of the public JSON-RPC surface (docs/payments.md) --------------------------------------------

# Most gas one eth_call, eth_estimateGas or transaction may use: also the chain's block gas limit, so a signed
# transaction cannot ask for more. The forwarder factory, the largest contract Kassa deploys, takes 0.86M.
GAS_CAP = 10_000_000
# Longest one EVM execution (a transaction, Kassa's own included, an eth_call, one run of an estimate) or a whole
# eth_estimateGas may take. py-evm interprets about 2M cheap opcodes a second, so 10M gas of them would still
# hold the chain's lock for about 5 s: this limit, not the gas cap, bounds how long one call keeps others waiting.
EVM_SECONDS = 1.0
MAX_BATCH = 20  # calls in one JSON-RPC batch
# The keyless faucet (`POST /devnet/fund`), per client address: 5 at once, then 3 a minute.
FAUCET_BURST = 5
FAUCET_PER_MINUTE = 3

# What wallets (EIP-1193 providers such as MetaMask), web3 libraries and block explorers read, plus
# eth_sendRawTransaction: nothing that signs with the chain's unlocked accounts (eth_sendTransaction, eth_sign),
# moves the chain outside a transaction (evm_*, testing_*) or keeps state per caller (filters).
PUBLIC_METHODS = frozenset(
    {
        "web3_clientVersion",
        "web3_sha3",
        "net_version",
        "net_listening",
        "net_peerCount",
        "eth_chainId",
        "eth_syncing",
        "eth_protocolVersion",
        "eth_blockNumber",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_blobBaseFee",
        "eth_feeHistory",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getCode",
        "eth_getStorageAt",
        "eth_call",
        "eth_estimateGas",
        "eth_sendRawTransaction",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getBlockTransactionCountByHash",
        "eth_getUncleCountByBlockNumber",
        "eth_getUncleCountByBlockHash",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionReceipt",
        "eth_getLogs",
    }
)
_CALLS = frozenset({"eth_call", "eth_estimateGas"})  # the caller names the gas: capped at GAS_CAP

# py-evm computes these precompiles in pure Python, far slower than their gas prices assume, and one call to them
# cannot be interrupted (measured: BLAKE2F at 8 µs per 1-gas round, so 9M rounds in one call take over a minute;
# a BN254 pairing costs 7 µs per gas). Payment and wallet contracts do not use them: on the dev chain they fail.
# BN254 pairing (0x08), BLAKE2F (0x09) and the BLS12-381 operations (0x0b to 0x11).
_SLOW_PRECOMPILES = frozenset(bytes(19) + bytes([n]) for n in (0x08, 0x09, *range(0x0B, 0x12)))


def _refuse_precompile(computation: ComputationAPI) -> ComputationAPI:
    raise VMError("this precompile is disabled on the Kassa dev chain (py-evm runs it too slowly to bound)")


class _Deadline(threading.local):
    at: float | None = None


_deadline = _Deadline()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """EVM code this thread runs inside the block fails as out of gas once `seconds` have passed (nested: the
    earlier deadline wins)."""
    outer = _deadline.at
    limit = time.monotonic() + seconds
    _deadline.at = limit if outer is None else min(outer, limit)
    try:
        yield
    finally:
        _deadline.at = outer


class _Checkpoint(OpcodeAPI):
    """An opcode that first checks this thread's deadline. Put on every jump, call and create, it stops any loop
    or recursion; between two checks runs at most one contract's straight-line code (24 KB). Checking every
    opcode instead made cheap ones twice as slow."""

    __slots__ = ("inner", "mnemonic")

    def __init__(self, inner: OpcodeAPI) -> None:
        self.inner = inner
        self.mnemonic = inner.mnemonic

    def __call__(self, computation: ComputationAPI) -> None:
        deadline = _deadline.at
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfGas(f"time limit: the Kassa dev chain stops an execution after {EVM_SECONDS:g} s")
        self.inner(computation)

    @classmethod
    def as_opcode(cls, logic_fn: Callable[[ComputationAPI], None], mnemonic: str, gas_cost: int) -> OpcodeAPI:
        return cls(Opcode.as_opcode(logic_fn, mnemonic, gas_cost))


_CHECKPOINTS = frozenset({0x56, 0x57, 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA})  # JUMP(I), CREATE(2), CALL and kin


class _DevComputation(PragueComputation):
    opcodes = {code: _Checkpoint(op) if code in _CHECKPOINTS else op for code, op in PragueComputation.opcodes.items()}
    _precompiles = {
        address: _refuse_precompile if address in _SLOW_PRECOMPILES else precompile
        for address, precompile in PragueComputation.get_precompiles().items()
    }


class _DevState(PragueState):
    computation_class = _DevComputation

    def apply_transaction(self, transaction: SignedTransactionAPI) -> ComputationAPI:
        with time_limit(EVM_SECONDS):
            return super().apply_transaction(transaction)


class DevVM(PragueVM):
    """Prague with the dev chain's limits: a time limit on every execution, the slow precompiles refused."""

    _state_class = _DevState


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DevContracts:
    usdc: str
    usdt: str
    factory: str
    eur_usd_feed: str
    usdc_usd_feed: str


def dev_private_key(index: int) -> str:
    key: bytes = Account.from_mnemonic(MNEMONIC, account_path=f"{HD_PATH}/{index}").key
    return "0x" + key.hex()


class DevChain:
    def __init__(self, *, confirmations: int = 2, block_seconds: float = 1.0, chain_id: int = DEV_CHAIN_ID) -> None:
        # Random extra data: two dev chains started within the same second still differ in genesis hash,
        # which is how the watcher tells a restarted chain from the one it knew.
        genesis = PyEVMBackend.generate_genesis_params(
            overrides={"timestamp": int(time.time()), "extra_data": os.urandom(32), "gas_limit": GAS_CAP}
        )
        backend = PyEVMBackend.from_mnemonic(
            MNEMONIC,
            num_accounts=ACCOUNTS,
            hd_path=HD_PATH,
            genesis_parameters=genesis,
            genesis_state_overrides={"balance": START_ETH},
            vm_configuration=((0, DevVM),),
        )
        # eth-tester fixes its chain id on a class it builds per backend; ours is 1337.
        type(backend.chain).chain_id = chain_id
        self.chain_id = chain_id
        self.tester = EthereumTester(backend=backend)
        self.provider = EthereumTesterProvider(self.tester)
        # web3's middleware turns JSON-RPC parameters (hex quantities) into what eth-tester expects.
        self._request = self.provider.request_func(Web3(self.provider), Web3(self.provider).middleware_onion)
        self.confirmations = confirmations
        self.block_seconds = block_seconds
        self.lock = threading.RLock()
        self._logs: dict[int, list[dict[str, Any]]] = {}
        self._indexed_to = 0
        self.accounts: list[str] = list(self.tester.get_accounts())
        self.contracts = self._deploy()
        # The keyless faucet's limit per client address (the endpoint takes the turns).
        self.faucet_limit = TokenBuckets(FAUCET_PER_MINUTE / 60, FAUCET_BURST)

    # --- set-up ---------------------------------------------------------------------------------------

    def _deploy(self) -> DevContracts:
        owner = self.accounts[0]
        token = artifact("TestStablecoin")
        usdc = self._create(owner, token.deploy_data(["string", "string", "uint8"], ["Test USD Coin", "USDC", 6]))
        usdt = self._create(owner, token.deploy_data(["string", "string", "uint8"], ["Test Tether USD", "USDT", 6]))
        factory = self._create(owner, artifact("KassaForwarderFactory").bytecode)
        feed = artifact("TestPriceFeed")
        types = ["uint8", "string", "int256"]
        eur_usd = self._create(owner, feed.deploy_data(types, [FEED_DECIMALS, "EUR / USD", EUR_USD]))
        usdc_usd = self._create(owner, feed.deploy_data(types, [FEED_DECIMALS, "USDC / USD", USDC_USD]))
        for account in self.accounts:
            for address in (usdc, usdt):
                self.mint(address, account, START_TOKENS * 10**TOKEN_DECIMALS)
        return DevContracts(usdc=usdc, usdt=usdt, factory=factory, eur_usd_feed=eur_usd, usdc_usd_feed=usdc_usd)

    def _create(self, sender: str, data: bytes) -> str:
        with self.lock:
            tx = self.tester.send_transaction({"from": sender, "data": "0x" + data.hex(), "gas": 5_000_000})
            receipt = self.tester.get_transaction_receipt(tx)
        if receipt["status"] != 1 or not receipt["contract_address"]:
            raise RuntimeError("dev chain contract deployment failed")
        return to_checksum_address(receipt["contract_address"])

    def chain(self, public_url: str) -> Chain:
        return Chain(
            id=self.chain_id,
            name="Kassa Dev Chain",
            testnet=True,
            assets=(
                Asset("usdc", self.contracts.usdc, TOKEN_DECIMALS, "USDC", "Test USD Coin"),
                Asset("usdt", self.contracts.usdt, TOKEN_DECIMALS, "USDT", "Test Tether USD"),
            ),
            rpc_url=f"{public_url}/devnet/rpc",
            confirmations=self.confirmations,
            explorer_name="Kassa Dev Chain",
            explorer_tx_url=f"{public_url}/devnet/tx/{{hash}}",
            factory_address=self.contracts.factory,
            max_block_range=1000,
            poll_seconds=0.5,
            price_feeds=(
                PriceFeed("eur", "usd", self.contracts.eur_usd_feed),
                PriceFeed("usdc", "usd", self.contracts.usdc_usd_feed),
            ),
        )

    # --- actions --------------------------------------------------------------------------------------

    def mint(self, token: str, to: str, raw_amount: int) -> str:
        return self.transact(
            self.accounts[0],
            token,
            call_data("mint(address,uint256)", ["address", "uint256"], [to_checksum_address(to), raw_amount]),
        )

    def transfer(self, token: str, sender: str, to: str, raw_amount: int) -> str:
        data = call_data("transfer(address,uint256)", ["address", "uint256"], [to_checksum_address(to), raw_amount])
        return self.transact(sender, token, data)

    def transact(self, sender: str, to: str, data: bytes) -> str:
        with self.lock:
            tx: str = self.tester.send_transaction(
                {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": 500_000}
            )
            self._index()
            return tx

    def fund(self, address: str, amount: int, currency: str) -> str:
        """The faucet: `amount` in whole-token units of eth, usdc or usdt."""
        currency = currency.lower()
        if currency == "eth":
            with self.lock:
                tx: str = self.tester.send_transaction(
                    {"from": self.accounts[0], "to": to_checksum_address(address), "value": amount * ETH, "gas": 21000}
                )
                self._index()
                return tx
        token = {"usdc": self.contracts.usdc, "usdt": self.contracts.usdt}.get(currency)
        if token is None:
            raise ValueError("currency must be eth, usdc or usdt")
        return self.mint(token, address, amount * 10**TOKEN_DECIMALS)

    def snapshot(self) -> Any:
        with self.lock:
            return self.tester.take_snapshot()

    def revert(self, snapshot: Any) -> None:
        """Roll the chain back to a snapshot: blocks after it are gone (tests use this to stage a reorg)."""
        with self.lock:
            self.tester.revert_to_snapshot(snapshot)
            head = self.tester.get_block_by_number("latest")["number"]
            for number in [n for n in self._logs if n > head]:
                del self._logs[number]
            self._indexed_to = min(self._indexed_to, head)

    def mine(self, blocks: int = 1) -> None:
        with self.lock:
            self.tester.mine_blocks(blocks)

    def run_miner(self, stop: threading.Event) -> None:
        while not stop.wait(self.block_seconds):
            self.mine()

    # --- JSON-RPC -------------------------------------------------------------------------------------

    def serve(self, method: str, params: list[Any]) -> Any:
        """One call from the public endpoint `/devnet/rpc`: the allowlist, then the gas cap on calls."""
        if method == "eth_accounts":
            return []  # no unlocked accounts on offer: a wallet signs itself and sends eth_sendRawTransaction
        if method not in PUBLIC_METHODS:
            raise RpcError(-32601, f"Method not found: the Kassa dev chain does not serve {method[:100]}")
        if method not in _CALLS:
            return self.rpc(method, params)
        capped = [_capped_call(params[0] if params else None), *params[1:]]
        with self.lock, time_limit(EVM_SECONDS):  # the whole estimate, all its runs; the clock starts in the lock
            return self.rpc(method, capped)

    def rpc(self, method: str, params: list[Any]) -> Any:
        """Any method eth-tester knows, unlocked accounts included: for Kassa's own code and the tests."""
        with self.lock:
            if method == "eth_chainId":
                return hex(self.chain_id)
            if method == "net_version":
                return str(self.chain_id)
            if method == "eth_getLogs":
                return self._get_logs(params[0] if params else {})
            try:
                response = self._request(RPCEndpoint(method), params)
            except Exception as exc:  # eth-tester raises its own validation and transaction errors
                raise RpcError(-32000, f"{type(exc).__name__}: {exc}") from exc
            if "error" in response:
                error = response["error"]
                if isinstance(error, dict):
                    raise RpcError(int(error.get("code", -32000)), str(error.get("message", "error")))
                raise RpcError(-32000, str(error))
            if method in ("eth_sendRawTransaction", "eth_sendTransaction"):
                self._index()
            return to_wire(response.get("result"))

    def _index(self) -> None:
        head = self.tester.get_block_by_number("latest")["number"]
        for number in range(self._indexed_to + 1, head + 1):
            block = self.tester.get_block_by_number(number)
            logs = []
            for tx_hash in block["transactions"]:
                receipt = self.tester.get_transaction_receipt(tx_hash)
                for log in receipt["logs"]:
                    logs.append(
                        {
                            "address": to_checksum_address(log["address"]).lower(),
                            "topics": [_hex(t) for t in log["topics"]],
                            "data": _hex(log["data"]),
                            "blockNumber": hex(number),
                            "blockHash": block["hash"],
                            "transactionHash": tx_hash,
                            "transactionIndex": hex(receipt["transaction_index"]),
                            "logIndex": hex(log["log_index"]),
                            "removed": False,
                        }
                    )
            self._logs[number] = logs
        self._indexed_to = max(self._indexed_to, head)

    def _get_logs(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        self._index()
        head = self._indexed_to
        start = _block_number(spec.get("fromBlock", "latest"), head)
        end = _block_number(spec.get("toBlock", "latest"), head)
        addresses = spec.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        wanted = {a.lower() for a in addresses} if addresses else None
        topics = spec.get("topics") or []
        out = []
        for number in range(max(start, 0), min(end, head) + 1):
            for log in self._logs.get(number, []):
                if wanted is not None and log["address"] not in wanted:
                    continue
                if _topics_match(log["topics"], topics):
                    out.append(log)
        return out


def _capped_call(call: Any) -> dict[str, Any]:
    """The call object of eth_call or eth_estimateGas, its gas at most GAS_CAP (GAS_CAP when it names none)."""
    if not isinstance(call, dict):
        raise RpcError(-32602, "Invalid params: the first parameter must be a call object")
    gas = call.get("gas")
    try:
        wanted = GAS_CAP if gas is None else int(gas, 16) if isinstance(gas, str) else int(gas)
    except (TypeError, ValueError):
        raise RpcError(-32602, "Invalid params: gas must be a hex quantity") from None
    if wanted < 0:
        raise RpcError(-32602, "Invalid params: gas must not be negative")
    return call | {"gas": hex(min(wanted, GAS_CAP))}


def to_wire(value: Any) -> Any:
    """Back to JSON-RPC's wire format: quantities as hex strings, bytes as 0x-hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


def _hex(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _block_number(tag: Any, head: int) -> int:
    if tag in ("latest", "safe", "finalized", "pending", None):
        return head
    if tag == "earliest":
        return 0
    return int(tag, 16) if isinstance(tag, str) else int(tag)


def _topics_match(log_topics: list[str], wanted: list[Any]) -> bool:
    for position, want in enumerate(wanted):
        if want is None:
            continue
        if position >= len(log_topics):
            return False
        options = [want] if isinstance(want, str) else want
        if log_topics[position].lower() not in {o.lower() for o in options}:
            return False
    return True
