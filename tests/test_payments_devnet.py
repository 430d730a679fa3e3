"""Paying checkout sessions on the built-in dev chain, watched by the server's own watcher thread."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from contract import assert_matches_operation
from factories import USDC, make_price
from kassa.chains.addresses import Split, deposit_address
from kassa.chains.registry import DEV_CHAIN_ID
from kassa.events.service import events_for
from kassa.payments.deposit import DEV_MERCHANT_WALLET
from support import LiveServer, Merchant

BUYER = 1


def dev_session(shop: Merchant, *, amount: int = 10 * USDC, **fields: Any) -> dict[str, Any]:
    price = make_price(shop, amount=amount)
    body = {
        "successUrl": "https://shop.example.com/ok",
        "lineItems": {"data": [{"priceId": price["id"]}]},
        "paymentSetting": {"allowedChains": [{"chainId": DEV_CHAIN_ID}]},
    } | fields
    resp = shop.http.post("/api/v1/checkout/sessions", json=body)
    assert resp.status_code == 200, resp.text
    session: dict[str, Any] = resp.json()
    return session


def wait_for(shop: Merchant, session_id: str, predicate: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = shop.http.get(f"/api/v1/checkout/sessions/{session_id}").json()
        if predicate(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def pay(live: LiveServer, session: dict[str, Any], raw: int, *, token: str | None = None) -> str:
    address = session["addresses"][0]["paymentAddress"]
    devnet = live.devnet
    return devnet.transfer(token or devnet.contracts.usdc, devnet.accounts[BUYER], address, raw)


def test_session_gets_a_dev_chain_deposit_address(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop)
    [address] = session["addresses"]
    assert_matches_operation(session, "SessionsController_create")
    assert address["asset"]["chainId"] == DEV_CHAIN_ID
    assert address["asset"]["currency"] == "usdc"
    assert address["asset"]["address"] == live.devnet.contracts.usdc
    expected = deposit_address(
        live.devnet.contracts.factory, uuid.UUID(session["id"]), [Split(DEV_MERCHANT_WALLET, 100)]
    )
    assert address["paymentAddress"] == expected
    assert address["recipients"] == [{"address": DEV_MERCHANT_WALLET, "percentage": 100}]


def test_exact_payment_completes_once(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, amount=10 * USDC)
    tx = pay(live, session, 10_000_000)  # 10 USDC at 6 decimals
    done = wait_for(shop, session["id"], lambda s: s["status"] == "complete")
    assert (done["status"], done["paymentStatus"], done["paymentIntent"]["status"]) == ("complete", "paid", "succeeded")
    assert done["amountReceived"] == str(10 * USDC)
    [transaction] = done["paymentIntent"]["transactions"]
    assert transaction["transactionHash"] == tx
    assert (transaction["amountRaw"], transaction["amount"], transaction["status"]) == (
        "10000000",
        str(10 * USDC),
        "confirmed",
    )
    assert transaction["toAddress"] == session["addresses"][0]["paymentAddress"]
    assert_matches_operation(done, "SessionsController_findOne")
    with live.database.read_sessions() as db:
        assert [e.type for e in events_for(db, uuid.UUID(session["id"]))] == ["checkout_session.completed"]


def test_one_raw_unit_short_then_top_up(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, amount=10 * USDC)
    pay(live, session, 9_999_999)
    partial = wait_for(shop, session["id"], lambda s: s["status"] == "incomplete")
    assert (partial["status"], partial["paymentStatus"]) == ("incomplete", "unpaid")
    assert partial["amountReceived"] == str(10 * USDC - 100)
    pay(live, session, 1)
    done = wait_for(shop, session["id"], lambda s: s["status"] == "complete")
    assert done["status"] == "complete"
    assert len(done["paymentIntent"]["transactions"]) == 2
    with live.database.read_sessions() as db:
        types = [e.type for e in events_for(db, uuid.UUID(session["id"]))]
    assert types == ["checkout_session.partially_paid", "checkout_session.completed"]


def test_overpayment_completes_and_is_recorded(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, amount=10 * USDC)
    pay(live, session, 15_000_000)
    done = wait_for(shop, session["id"], lambda s: s["status"] == "complete")
    assert done["amountReceived"] == str(15 * USDC)
    assert done["amountTotal"] == str(10 * USDC)


def test_wrong_token_is_recorded_and_reported_not_credited(live: LiveServer, shop: Merchant) -> None:
    session = dev_session(shop, amount=10 * USDC)
    pay(live, session, 10_000_000, token=live.devnet.contracts.usdt)
    body = wait_for(shop, session["id"], lambda s: len(s["paymentIntent"]["transactions"]) == 1)
    assert body["status"] == "open"
    [transaction] = body["paymentIntent"]["transactions"]
    assert (transaction["currency"], transaction["kind"]) == ("usdt", "wrong_currency")
    with live.database.read_sessions() as db:
        [event] = events_for(db, uuid.UUID(session["id"]), "payment.unmatched")
    assert event.data["reason"] == "wrong_currency"
    assert event.data["transactionHash"] == transaction["transactionHash"]


def test_session_on_the_dev_chain_expires_within_seconds(live: LiveServer, shop: Merchant) -> None:
    """Expiry waits for the watcher to read the chain past expiresAt, then happens at once (not at the sweep)."""
    # Opened (by Kassa's clock) almost an hour ago, so it expires in two seconds of real time, which the dev
    # chain's blocks follow: no time travel, nothing left behind for other tests.
    live.clock.advance(-timedelta(minutes=59, seconds=58))
    try:
        session = dev_session(shop)
    finally:
        live.clock.advance(timedelta(minutes=59, seconds=58))
    body = wait_for(shop, session["id"], lambda s: s["status"] == "expired", timeout=15)
    assert body["status"] == "expired"
    with live.database.read_sessions() as db:
        assert [e.type for e in events_for(db, uuid.UUID(session["id"]))] == ["checkout_session.expired"]
