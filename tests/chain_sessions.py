"""Checkout sessions paid on a test chain (chain_harness) with the watcher stepped by hand: what the payment tests
that stage reorgs, late payments and odd tokens share."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from chain_harness import AnvilChain, DevnetChain, TestChain
from factories import USDC, make_price
from kassa.auth.keys import Principal
from kassa.chains.contracts import artifact, call_data
from kassa.chains.devnet import dev_private_key
from kassa.chains.rpc import to_int
from kassa.checkout.schemas import SessionCreate
from kassa.checkout.service.create import create_session
from kassa.events.service import events_for
from support import LiveServer, Merchant

MERCHANT = "0x" + "5e" * 20


def start_chain(kind: str, confirmations: int, chain_id: int) -> TestChain:
    """A dev chain or anvil that Kassa knows under `chain_id`: each test module takes its own id, so its cursor
    (one row per chain id in the shared database) is not another module's."""
    harness: TestChain = DevnetChain(confirmations) if kind == "devnet" else AnvilChain(confirmations)
    harness.chain = dataclasses.replace(harness.chain, id=chain_id)
    return harness


def chain_session(live: LiveServer, shop: Merchant, chain: TestChain, *, amount: int = 10 * USDC) -> dict[str, Any]:
    price = make_price(shop, amount=amount)
    data = SessionCreate.model_validate(
        {
            "successUrl": "https://shop.example.com/ok",
            "lineItems": {"data": [{"priceId": price["id"]}]},
            "paymentSetting": {"allowedChains": [{"chainId": chain.chain.id, "withdrawalAddress": MERCHANT}]},
        }
    )
    registry = live.runtime.chains.with_chain(chain.chain)
    with live.database.write_sessions() as db:
        session = create_session(db, live.clock, Principal.of(shop.organization_id, "test"), registry, data)
        db.commit()
        session_id = session.id
    return get(shop, str(session_id))


def get(shop: Merchant, session_id: str) -> dict[str, Any]:
    resp = shop.http.get(f"/api/v1/checkout/sessions/{session_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def address_of(session: dict[str, Any]) -> str:
    [address] = session["addresses"]
    return str(address["paymentAddress"])


def event_types(live: LiveServer, session_id: str) -> list[str]:
    with live.database.read_sessions() as db:
        return [e.type for e in events_for(db, uuid.UUID(session_id))]


def signed_transfer(chain: TestChain, token: str, sender: int, to: str, raw: int) -> str:
    """A signed ERC-20 transfer from dev account `sender` (anvil's accounts are the same mnemonic's), as raw
    bytes: sent again after a reorg, it is the same transaction (same hash) in another block."""
    account = Account.from_key(dev_private_key(sender))
    data = call_data("transfer(address,uint256)", ["address", "uint256"], [to_checksum_address(to), raw])
    tx = {
        "to": to_checksum_address(token),
        "data": "0x" + data.hex(),
        "value": 0,
        "gas": 200_000,
        "gasPrice": 2 * to_int(chain.rpc.call("eth_gasPrice", [])),
        "nonce": to_int(chain.rpc.call("eth_getTransactionCount", [account.address, "pending"])),
        "chainId": to_int(chain.rpc.call("eth_chainId", [])),
    }
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def send_raw(chain: TestChain, raw_tx: str) -> str:
    """Send a signed transaction; both chains mine it at once. Returns its hash."""
    tx_hash: str = chain.rpc.call("eth_sendRawTransaction", [raw_tx])
    if isinstance(chain, AnvilChain):
        chain._receipt(tx_hash)
    return tx_hash.lower()


def deploy_token(chain: TestChain, decimals: int, symbol: str) -> str:
    """Deploy another TestStablecoin with `decimals` and give dev accounts 1-3 a million tokens each."""
    data = artifact("TestStablecoin").deploy_data(["string", "string", "uint8"], [f"Test {symbol}", symbol, decimals])
    grant = 10**6 * 10**decimals
    if isinstance(chain, DevnetChain):
        token = chain.dev._create(chain.accounts[0], data)
        for sender in (1, 2, 3):
            chain.dev.mint(token, chain.accounts[sender], grant)
        return token
    token = chain._create(data)
    for sender in (1, 2, 3):
        chain._send(token, call_data("mint(address,uint256)", ["address", "uint256"], [chain.accounts[sender], grant]))
    return token
