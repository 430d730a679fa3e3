"""Crediting on two real EVMs (the dev chain and anvil), the watcher stepped by hand: payments to a session that is
already complete, and a token with 18 decimals whose transfers are summed exactly.

The chain's USDC here is a TestStablecoin deployed with 18 decimals, so raw amounts are finer than the API's
8-decimal units: each transfer alone rounds down, and only summing the raw amounts first gives the exact total.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from chain_harness import TestChain
from chain_sessions import address_of, chain_session, deploy_token, event_types, get, start_chain
from factories import USDC
from kassa.chains.registry import Asset
from kassa.events.service import events_for
from kassa.payments.watcher import ChainWatcher
from support import LiveServer, Merchant

CONFIRMATIONS = 3
CHAIN_IDS = {"devnet": 1342, "anvil": 31342}
TOKEN = 10**18  # one whole token of the 18-decimal USDC


@pytest.fixture(scope="module", params=["devnet", "anvil"])
def chain(request: pytest.FixtureRequest) -> Iterator[TestChain]:
    harness = start_chain(request.param, CONFIRMATIONS, CHAIN_IDS[request.param])
    token = deploy_token(harness, 18, "USDC")
    usdc = Asset("usdc", token, 18, "USDC", "Test USD Coin (18 decimals)")
    harness.chain = dataclasses.replace(harness.chain, assets=(usdc,))
    harness.usdc = token
    yield harness
    harness.close()


@pytest.fixture
def watcher(live: LiveServer, chain: TestChain) -> ChainWatcher:
    return ChainWatcher(live.settings, live.database, chain.chain, chain.rpc, owner=f"crediting-{chain.chain.id}")


def unmatched_reasons(live: LiveServer, session_id: str) -> list[tuple[str, str]]:
    with live.database.read_sessions() as db:
        events = events_for(db, uuid.UUID(session_id), "payment.unmatched")
        return [(e.data["transactionHash"], e.data["reason"]) for e in events]


def test_three_transfers_of_an_18_decimal_token_sum_exactly(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session = chain_session(live, shop, chain, amount=10 * USDC)
    [address] = session["addresses"]
    assert (address["asset"]["address"].lower(), address["asset"]["decimals"]) == (chain.usdc.lower(), 18)
    third = 10 * TOKEN // 3  # 3.333333333333333333 tokens: 3.33333333 in API units, rounded down
    raws = [third, third, third + 1]
    assert sum(raws) == 10 * TOKEN
    chain.transfer(chain.usdc, 1, address_of(session), raws[0])
    chain.transfer(chain.usdc, 2, address_of(session), raws[1])
    chain.mine(CONFIRMATIONS)
    watcher.step()
    partial = get(shop, session["id"])
    # 6.666666666666666666 tokens, rounded down once: 6.66666666.
    assert (partial["status"], partial["amountReceived"]) == ("incomplete", "666666666")

    chain.transfer(chain.usdc, 3, address_of(session), raws[2])
    chain.mine(CONFIRMATIONS)
    watcher.step()
    done = get(shop, session["id"])
    # Each transfer alone is 3.33333333 (9.99999999 together); summed raw first they are exactly 10.
    assert (done["status"], done["paymentStatus"], done["amountReceived"]) == ("complete", "paid", str(10 * USDC))
    listed = done["paymentIntent"]["transactions"]
    assert [(t["amountRaw"], t["amount"]) for t in listed] == [(str(raw), "333333333") for raw in raws]
    assert event_types(live, session["id"]) == ["checkout_session.partially_paid", "checkout_session.completed"]


def test_payment_to_a_completed_session_is_recorded_and_reported(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session = chain_session(live, shop, chain, amount=10 * USDC)
    chain.transfer(chain.usdc, 1, address_of(session), 10 * TOKEN)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    completed = get(shop, session["id"])
    assert completed["status"] == "complete"

    late = chain.transfer(chain.usdc, 2, address_of(session), 5 * TOKEN).lower()
    chain.mine(CONFIRMATIONS)
    watcher.step()
    after = get(shop, session["id"])
    for field in ("status", "paymentStatus", "amountReceived", "updatedAt"):  # the session is not touched
        assert after[field] == completed[field], field
    assert after["amountReceived"] == str(10 * USDC)
    [_, second] = after["paymentIntent"]["transactions"]
    assert (second["transactionHash"], second["kind"], second["status"]) == (late, "after_completion", "confirmed")
    assert unmatched_reasons(live, session["id"]) == [(late, "after_completion")]
    assert event_types(live, session["id"]) == ["checkout_session.completed", "payment.unmatched"]


def test_payment_seen_before_completion_and_confirmed_after_it_is_reported(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    """Two payments race: the first completes the session while the second is still confirming. The second was
    recorded as a payment, but it comes too late to count: reported once, the session left as it was."""
    session = chain_session(live, shop, chain, amount=10 * USDC)
    chain.transfer(chain.usdc, 1, address_of(session), 10 * TOKEN)
    second = chain.transfer(chain.usdc, 2, address_of(session), 5 * TOKEN).lower()  # one block later
    chain.mine(CONFIRMATIONS - 2)  # the first has its confirmations, the second one short
    watcher.step()
    completed = get(shop, session["id"])
    assert (completed["status"], completed["amountReceived"]) == ("complete", str(10 * USDC))
    assert [t["status"] for t in completed["paymentIntent"]["transactions"]] == ["confirmed", "pending"]

    chain.mine(1)
    watcher.step()
    after = get(shop, session["id"])
    assert (after["status"], after["amountReceived"]) == ("complete", str(10 * USDC))
    listed = after["paymentIntent"]["transactions"][1]
    assert (listed["transactionHash"], listed["kind"], listed["status"]) == (second, "after_completion", "confirmed")
    assert unmatched_reasons(live, session["id"]) == [(second, "after_completion")]
    assert event_types(live, session["id"]) == ["checkout_session.completed", "payment.unmatched"]
    watcher.step()
    assert event_types(live, session["id"]) == ["checkout_session.completed", "payment.unmatched"]
