"""Two real EVMs behind one interface for the watcher's scenario tests: the built-in dev chain (py-evm) and
anvil, an independent node implementation started as a process on a loopback port."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kassa.chains.contracts import artifact, call_data
from kassa.chains.devnet import DevChain, RpcError
from kassa.chains.registry import Asset, Chain
from kassa.chains.rpc import DevChainRpc, HttpRpc, Rpc, to_int
from support import free_port

ANVIL = Path(__file__).resolve().parent.parent / "tools" / "node_modules" / ".bin" / "anvil"
DEVNET_TEST_CHAIN_ID = 1338
ANVIL_CHAIN_ID = 31338


@dataclass
class DevnetChain:
    confirmations: int = 2
    dev: DevChain = field(init=False)
    _extra: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dev = DevChain(confirmations=self.confirmations, chain_id=DEVNET_TEST_CHAIN_ID)
        self.chain = self.dev.chain("http://127.0.0.1:9")
        self.rpc: Rpc = DevChainRpc(self.dev)
        self.accounts = self.dev.accounts
        self.usdc = self.dev.contracts.usdc
        self.usdt = self.dev.contracts.usdt

    def transfer(self, token: str, sender: int, to: str, raw: int) -> str:
        return self.dev.transfer(token, self.accounts[sender], to, raw)

    def mine(self, blocks: int = 1) -> None:
        self.dev.mine(blocks)

    def snapshot(self) -> Any:
        return self.dev.snapshot()

    def revert(self, snapshot: Any) -> None:
        self.dev.revert(snapshot)

    def set_next_timestamp(self, timestamp: int) -> None:
        with self.dev.lock:
            self.dev.tester.time_travel(timestamp)

    def head(self) -> int:
        return to_int(self.rpc.call("eth_blockNumber", []))

    def batch(self, transfers: list[tuple[str, int, str, int]]) -> list[str]:
        """Mine the transfers in one block. eth-tester checks each pending transaction against the last state,
        so it takes one transaction per sender: each transfer gets a fresh, funded sender."""
        tester = self.dev.tester
        senders = []
        for index, (token, _, _, raw) in enumerate(transfers):
            key = "0x" + (0xB0B + index + 1000 * len(self._extra)).to_bytes(32, "big").hex()
            self._extra.append(key)
            with self.dev.lock:
                address = tester.add_account(key)
            self.dev.fund(address, 1, "eth")
            self.dev.mint(token, address, raw)
            senders.append(address)
        with self.dev.lock:
            tester.disable_auto_mine_transactions()
            try:
                hashes = []
                for sender, (token, _, to, raw) in zip(senders, transfers, strict=True):
                    data = call_data("transfer(address,uint256)", ["address", "uint256"], [to, raw])
                    hashes.append(
                        tester.send_transaction(
                            {"from": sender, "to": token, "data": "0x" + data.hex(), "gas": 200_000}
                        )
                    )
                tester.mine_blocks(1)
            finally:
                tester.enable_auto_mine_transactions()
            self.dev._index()
        return hashes

    def close(self) -> None:
        return None


@dataclass
class AnvilChain:
    confirmations: int = 2
    process: subprocess.Popen[bytes] = field(init=False)
    automine: bool = True

    def __post_init__(self) -> None:
        if not ANVIL.exists():
            raise RuntimeError(
                f"anvil is not installed at {ANVIL}: run `npm ci --prefix tools` "
                "(make test, make bench and make contracts do; make setup does not)"
            )
        port = free_port()
        self.process = subprocess.Popen(
            [str(ANVIL), "--port", str(port), "--chain-id", str(ANVIL_CHAIN_ID), "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.rpc = HttpRpc(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                self.rpc.call("eth_chainId", [])
                break
            except RpcError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("anvil did not start") from None
                time.sleep(0.05)
        self.accounts = list(self.rpc.call("eth_accounts", []))
        token = artifact("TestStablecoin")
        self.usdc = self._create(token.deploy_data(["string", "string", "uint8"], ["Test USD Coin", "USDC", 6]))
        self.usdt = self._create(token.deploy_data(["string", "string", "uint8"], ["Test Tether USD", "USDT", 6]))
        factory = self._create(artifact("KassaForwarderFactory").bytecode)
        for account in self.accounts[:4]:
            for address in (self.usdc, self.usdt):
                self._send(address, call_data("mint(address,uint256)", ["address", "uint256"], [account, 10**15]))
        self.chain = Chain(
            id=ANVIL_CHAIN_ID,
            name="Anvil",
            testnet=True,
            assets=(
                Asset("usdc", self.usdc, 6, "USDC", "Test USD Coin"),
                Asset("usdt", self.usdt, 6, "USDT", "Tether"),
            ),
            rpc_url=f"http://127.0.0.1:{port}",
            confirmations=self.confirmations,
            factory_address=factory,
            max_block_range=1000,
            poll_seconds=0.2,
        )

    def _send(self, to: str | None, data: bytes, sender: int = 0) -> str:
        tx: dict[str, Any] = {"from": self.accounts[sender], "data": "0x" + data.hex(), "gas": hex(6_000_000)}
        if to is not None:
            tx["to"] = to
        tx_hash: str = self.rpc.call("eth_sendTransaction", [tx])
        if self.automine:
            self._receipt(tx_hash)
        return tx_hash

    def _receipt(self, tx_hash: str) -> dict[str, Any]:
        """anvil answers eth_sendTransaction before its block is mined: wait for the receipt."""
        deadline = time.monotonic() + 10
        while True:
            receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for {tx_hash}")
            time.sleep(0.01)

    def _create(self, data: bytes) -> str:
        receipt = self._receipt(self._send(None, data))
        address: str = receipt["contractAddress"]
        return address

    def transfer(self, token: str, sender: int, to: str, raw: int) -> str:
        return self._send(token, call_data("transfer(address,uint256)", ["address", "uint256"], [to, raw]), sender)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc.call("evm_mine", [])

    def snapshot(self) -> Any:
        return self.rpc.call("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        assert self.rpc.call("evm_revert", [snapshot]) is True

    def set_next_timestamp(self, timestamp: int) -> None:
        self.rpc.call("evm_setNextBlockTimestamp", [timestamp])

    def head(self) -> int:
        return to_int(self.rpc.call("eth_blockNumber", []))

    def batch(self, transfers: list[tuple[str, int, str, int]]) -> list[str]:
        self.rpc.call("evm_setAutomine", [False])
        self.automine = False
        try:
            hashes = [self.transfer(*t) for t in transfers]
            self.rpc.call("evm_mine", [])
        finally:
            self.rpc.call("evm_setAutomine", [True])
            self.automine = True
        for tx_hash in hashes:
            self._receipt(tx_hash)
        return hashes

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def anvil_available() -> bool:
    return ANVIL.exists() and shutil.which("node") is not None


# Either real EVM: the scenarios use only what both offer.
TestChain = DevnetChain | AnvilChain
