"""Chains, assets, withdrawal addresses, transactions, auto-recover, partial acceptance and the dev chain's
JSON-RPC and faucet, through the HTTP API."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from web3 import HTTPProvider, Web3

from contract import assert_matches_operation
from factories import USDC
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.checkout.service.expire import expire_if_due
from kassa.events.service import events_for
from kassa.payments.deposit import DEV_MERCHANT_WALLET
from kassa.payments.guards import MAX_WAIT
from support import LiveServer, Merchant, merchant
from test_payments_devnet import dev_session, pay, wait_for

OTHER_WALLET = Web3.to_checksum_address("0x" + "7a" * 20)
RACE_ROUNDS = 10
RECOVERERS = EXPIRERS = 3
STAGGER_SECONDS = 0.012
# Past expiresAt + MAX_WAIT: expiry no longer waits for payments still confirming.
PAST_THE_WAIT = MAX_WAIT + timedelta(hours=1, minutes=1)


def test_chains_and_assets_by_mode(live: LiveServer, shop: Merchant) -> None:
    page = shop.http.get("/api/v1/chains").json()
    assert_matches_operation(page, "ChainController_findAll")
    ids = {c["id"] for c in page["data"]}
    assert {DEV_CHAIN_ID, 11155111, 80002, 84532} <= ids
    assert 1 not in ids
    dev = shop.http.get(f"/api/v1/chains/{DEV_CHAIN_ID}").json()
    assert_matches_operation(dev, "ChainController_get")
    assert dev["enabled"] is True
    assert {a["currency"] for a in dev["assets"]} == {"usdc", "usdt"}
    assert shop.http.get("/api/v1/chains/1").status_code == 404
    assets = shop.http.get("/api/v1/assets").json()
    assert_matches_operation(assets, "AssetController_findAll")
    one = assets["data"][0]
    got = shop.http.get(f"/api/v1/assets/{one['id']}").json()
    assert_matches_operation(got, "AssetController_get")
    assert got == one
    with merchant(live, mode="live") as live_shop:
        live_ids = {c["id"] for c in live_shop.http.get("/api/v1/chains").json()["data"]}
        assert {1, 137, 8453, 42161, 10, 56} <= live_ids
        assert DEV_CHAIN_ID not in live_ids
        ethereum = live_shop.http.get("/api/v1/chains/1").json()
        assert ethereum["enabled"] is False  # no RPC URL configured
        usdc = next(a for a in ethereum["assets"] if a["currency"] == "usdc")
        assert usdc["address"] == "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


def test_withdrawal_addresses_and_payment_setting(shop: Merchant, other_shop: Merchant) -> None:
    [dev_wallet] = shop.http.get("/api/v1/organization/withdrawal-addresses").json()
    assert (dev_wallet["chainId"], dev_wallet["address"], dev_wallet["isDefault"]) == (
        DEV_CHAIN_ID,
        DEV_MERCHANT_WALLET,
        True,
    )
    created = shop.http.post(
        "/api/v1/organization/withdrawal-addresses",
        json={"name": "Treasury", "address": OTHER_WALLET, "chainId": DEV_CHAIN_ID},
    ).json()
    assert_matches_operation(created, "WithdrawalAddressController_create")
    assert created["isDefault"] is False
    marked = shop.http.post(f"/api/v1/organization/withdrawal-addresses/{created['id']}/mark-as-default")
    assert_matches_operation(marked.json(), "WithdrawalAddressController_markAsDefault")
    setting = shop.http.get("/api/v1/organization/payment-setting").json()
    assert_matches_operation(setting, "PaymentSettingController_get")
    assert {"chainId": DEV_CHAIN_ID, "withdrawalAddress": OTHER_WALLET} in setting["allowedChains"]
    # Sessions that name no withdrawal address pay the default one.
    session = dev_session(shop, paymentSetting={"allowedChains": [{"chainId": DEV_CHAIN_ID}]})
    assert session["addresses"][0]["recipients"] == [{"address": OTHER_WALLET, "percentage": 100}]
    updated = shop.http.put(
        f"/api/v1/organization/withdrawal-addresses/{created['id']}", json={"name": "Vault", "address": OTHER_WALLET}
    ).json()
    assert updated["name"] == "Vault"
    bad = shop.http.post(
        "/api/v1/organization/withdrawal-addresses", json={"name": "x", "address": "0x12", "chainId": DEV_CHAIN_ID}
    )
    assert bad.status_code == 400
    assert bad.json()["message"][0].startswith("address:")
    assert other_shop.http.get(f"/api/v1/organization/withdrawal-addresses/{created['id']}").status_code == 404
    deleted = shop.http.delete(f"/api/v1/organization/withdrawal-addresses/{created['id']}")
    assert deleted.status_code == 200


def test_no_withdrawal_address_no_chain(shop: Merchant) -> None:
    [dev_wallet] = shop.http.get("/api/v1/organization/withdrawal-addresses").json()
    shop.http.delete(f"/api/v1/organization/withdrawal-addresses/{dev_wallet['id']}")
    session = dev_session(shop)
    assert session["addresses"] == []


def test_split_withdrawal_addresses(live: LiveServer, shop: Merchant) -> None:
    splits = [{"address": OTHER_WALLET, "splitPercentage": 30}, {"address": DEV_MERCHANT_WALLET, "splitPercentage": 70}]
    session = dev_session(
        shop, paymentSetting={"allowedChains": [{"chainId": DEV_CHAIN_ID, "withdrawalAddresses": splits}]}
    )
    assert session["addresses"][0]["recipients"] == [
        {"address": OTHER_WALLET, "percentage": 30},
        {"address": DEV_MERCHANT_WALLET, "percentage": 70},
    ]


def test_transactions_list(live: LiveServer, shop: Merchant, other_shop: Merchant) -> None:
    session = dev_session(shop)
    tx = pay(live, session, 10_000_000)
    wait_for(shop, session["id"], lambda s: s["status"] == "complete")
    page = shop.http.get("/api/v1/transactions").json()
    assert_matches_operation(page, "TransactionController_findAll")
    assert [t["transactionHash"] for t in page["data"]] == [tx]
    by_intent = shop.http.get("/api/v1/transactions", params={"paymentIntentId": session["paymentIntent"]["id"]}).json()
    assert by_intent["count"] == 1
    assert other_shop.http.get("/api/v1/transactions").json()["count"] == 0


def race_recover_and_expiry(
    live: LiveServer, shop: Merchant, session_id: str, tx: str, delay: float
) -> tuple[list[int], list[bool]]:
    """RECOVERERS auto-recover calls, each on an HTTP client of its own, and EXPIRERS expiry calls (what the
    expiry job runs), released together by a barrier, the expirers `delay` seconds later."""
    barrier = threading.Barrier(RECOVERERS + EXPIRERS, timeout=30)
    body = {"chainId": DEV_CHAIN_ID, "transactionHash": tx}

    def recover() -> int:
        barrier.wait()
        return shop.post_alone(f"/api/v1/checkout/sessions/{session_id}/auto-recover", body).status_code

    def expire() -> bool:
        barrier.wait()
        time.sleep(delay)
        with live.database.write_sessions() as db:
            done = expire_if_due(db, live.clock, uuid.UUID(session_id), live.settings.public_url)
            db.commit()
            return done

    with ThreadPoolExecutor(max_workers=RECOVERERS + EXPIRERS) as pool:
        recovering = [pool.submit(recover) for _ in range(RECOVERERS)]
        expiring = [pool.submit(expire) for _ in range(EXPIRERS)]
        return [f.result() for f in recovering], [f.result() for f in expiring]


def test_auto_recover_and_expiry_race_to_one_outcome(live: LiveServer, shop: Merchant) -> None:
    """Auto-recover and expiry calls start together behind a barrier, round after round on fresh sessions, with
    the server's own watcher and expiry job in the race as well.

    Kassa's clock is past expiresAt + MAX_WAIT, where expiry no longer waits for a payment to confirm, so either
    side can win. Whichever does, the session ends exactly once: complete with the payment credited and one
    completed event, or expired with one expired event and the payment reported as late, never credited. A
    recover call takes tens of milliseconds; the expirers start a little later each round, so the moment of
    contention moves across the recover requests (both outcomes occur over the rounds)."""
    for round_number in range(RACE_ROUNDS):
        session = dev_session(shop)
        tx = pay(live, session, 10_000_000)
        live.devnet.mine(2)  # deep enough: a recover call confirms it at once
        live.clock.advance(PAST_THE_WAIT)
        try:
            recovered, expired = race_recover_and_expiry(live, shop, session["id"], tx, round_number * STAGGER_SECONDS)
        finally:
            live.clock.advance(-PAST_THE_WAIT)
        assert recovered == [200] * RECOVERERS
        body = shop.http.get(f"/api/v1/checkout/sessions/{session['id']}").json()
        [transfer] = body["paymentIntent"]["transactions"]
        assert (transfer["transactionHash"], transfer["status"]) == (tx, "confirmed")
        with live.database.read_sessions() as db:
            types = [e.type for e in events_for(db, uuid.UUID(session["id"]))]
        if body["status"] == "complete":
            assert (body["amountReceived"], transfer["kind"]) == (str(10 * USDC), "payment")
            assert types == ["checkout_session.completed"]
            assert not any(expired)
        else:
            assert (body["status"], body["amountReceived"], transfer["kind"]) == ("expired", "0", "late")
            assert sorted(types) == ["checkout_session.expired", "payment.unmatched"]
            assert sum(expired) <= 1  # the server's expiry job may have been the one


def test_auto_recover_by_hash_and_bad_input(live: LiveServer, shop: Merchant, other_shop: Merchant) -> None:
    session = dev_session(shop)
    tx = pay(live, session, 10_000_000)
    live.devnet.mine(2)
    resp = shop.http.post(
        "/api/v1/checkout/sessions/auto-recover-by-transaction-hash",
        json={"chainId": DEV_CHAIN_ID, "transactionHash": tx},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"] == session["id"]
    theirs = other_shop.http.post(
        "/api/v1/checkout/sessions/auto-recover-by-transaction-hash",
        json={"chainId": DEV_CHAIN_ID, "transactionHash": tx},
    )
    assert theirs.status_code == 400
    unknown = shop.http.post(
        f"/api/v1/checkout/sessions/{session['id']}/auto-recover",
        json={"chainId": DEV_CHAIN_ID, "transactionHash": "0x" + "ab" * 32},
    )
    assert unknown.status_code == 400
    assert "does not know this transaction" in unknown.json()["message"][0]
    mainnet = shop.http.post(
        f"/api/v1/checkout/sessions/{session['id']}/auto-recover", json={"chainId": 1, "transactionHash": tx}
    )
    assert mainnet.status_code == 400


def test_accepting_a_partial_payment(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop)
    early = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/complete-partial-checkout-session")
    assert early.status_code == 400
    assert "still open" in early.json()["message"]
    pay(live, session, 4_000_000)
    wait_for(shop, session["id"], lambda s: s["status"] == "incomplete")
    resp = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/complete-partial-checkout-session")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_matches_operation(body, "SessionsController_completePartialCheckoutSession")
    assert (body["status"], body["paymentStatus"], body["amountReceived"]) == ("complete", "paid", str(4 * USDC))
    again = shop.http.post(f"/api/v1/checkout/sessions/{session['id']}/complete-partial-checkout-session")
    assert again.status_code == 400


def test_dev_chain_json_rpc_and_faucet(live: LiveServer, shop: Merchant) -> None:
    http = requests.Session()
    w3 = Web3(HTTPProvider(f"{live.base_url}/devnet/rpc", session=http))
    assert w3.eth.chain_id == DEV_CHAIN_ID
    assert w3.eth.get_balance(w3.to_checksum_address(live.devnet.accounts[0])) > 0
    wallet = "0x" + "c4" * 20
    resp = shop.http.post("/api/v1/devnet/fund", json={"address": wallet, "amount": 25, "currency": "usdc"})
    assert resp.status_code == 200, resp.text
    token = w3.eth.contract(
        address=w3.to_checksum_address(live.devnet.contracts.usdc),
        abi=[
            {
                "name": "balanceOf",
                "type": "function",
                "stateMutability": "view",
                "inputs": [{"name": "a", "type": "address"}],
                "outputs": [{"name": "", "type": "uint256"}],
            }
        ],
    )
    assert token.functions.balanceOf(w3.to_checksum_address(wallet)).call() == 25_000_000
    http.close()
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method", "params": []},
    ]
    with live.client() as anonymous:
        batch = anonymous.post("/devnet/rpc", json=calls).json()
    assert batch[0] == {"jsonrpc": "2.0", "id": 1, "result": hex(DEV_CHAIN_ID)}
    assert "error" in batch[1]
    bad = shop.http.post("/api/v1/devnet/fund", json={"address": wallet, "amount": 1, "currency": "btc"})
    assert bad.status_code == 400


def test_blocks_keep_coming_on_the_timer(live: LiveServer) -> None:
    start = live.devnet.rpc("eth_blockNumber", [])
    deadline = time.monotonic() + 10
    while live.devnet.rpc("eth_blockNumber", []) == start and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live.devnet.rpc("eth_blockNumber", []) != start
