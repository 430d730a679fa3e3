"""Deploying the forwarder factory on a chain (`kassa chain deploy-factory`)."""

from __future__ import annotations

from eth_account import Account
from web3 import HTTPProvider, Web3

from kassa.chains.contracts import artifact
from kassa.recursion import restore_recursion_limit

restore_recursion_limit()  # the Ethereum libraries above raise it past what the C stack holds

DEPLOY_GAS = 3_000_000


def deploy_factory(rpc_url: str, private_key: str, *, timeout: float = 120) -> str:
    """Send the factory's creation transaction from the key's account; returns the factory address."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    account = Account.from_key(private_key)
    factory = artifact("KassaForwarderFactory")
    tx = {
        "from": account.address,
        "data": "0x" + factory.bytecode.hex(),
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        "gas": DEPLOY_GAS,
        "maxFeePerGas": w3.eth.gas_price * 2,
        "maxPriorityFeePerGas": min(w3.eth.max_priority_fee, w3.eth.gas_price),
    }
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise RuntimeError(f"the factory deployment failed in transaction {tx_hash.hex()}")
    return str(receipt["contractAddress"])
