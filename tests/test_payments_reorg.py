"""Reorgs deeper than the confirmations, on two real EVMs (the dev chain and anvil), with the watcher stepped by
hand: a credited transfer whose block leaves the chain, and one that comes back in another block.

The decision pinned here (docs/payments.md, "Reorgs"): a completed session stays complete, because Kassa cannot
take back a fulfilment; the transfer is marked `reorged`, no longer counts, and a `payment.reorged` event (sent to
`*` webhook endpoints) tells the merchant. A transaction re-included elsewhere is the same transfer: credited once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chain_harness import DevnetChain, TestChain
from chain_sessions import address_of, chain_session, event_types, get, send_raw, signed_transfer, start_chain
from factories import USDC
from kassa.payments.models import ChainTransfer
from kassa.payments.watcher import ChainWatcher
from support import LiveServer, Merchant

CONFIRMATIONS = 3
CHAIN_IDS = {"devnet": 1341, "anvil": 31341}


@pytest.fixture(scope="module", params=["devnet", "anvil"])
def chain(request: pytest.FixtureRequest) -> Iterator[TestChain]:
    harness = start_chain(request.param, CONFIRMATIONS, CHAIN_IDS[request.param])
    yield harness
    harness.close()


@pytest.fixture
def watcher(live: LiveServer, chain: TestChain) -> ChainWatcher:
    return ChainWatcher(live.settings, live.database, chain.chain, chain.rpc, owner=f"reorg-{chain.chain.id}")


def transfer_states(live: LiveServer, session_id: str) -> list[tuple[str, str, int]]:
    with live.database.read_sessions() as db:
        rows = db.query(ChainTransfer).filter(ChainTransfer.session_id == uuid.UUID(session_id))
        return [(t.tx_hash, t.state, t.block_number) for t in rows.order_by(ChainTransfer.created_at)]


def test_credited_transfer_whose_block_leaves_the_chain_is_marked_reorged_and_reported(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    hook = shop.http.post(
        "/api/v1/webhook-endpoints",
        json={"description": "all events", "url": "http://127.0.0.1:9/hook", "enabledEvents": {"events": ["*"]}},
    )
    assert hook.status_code == 200, hook.text
    session = chain_session(live, shop, chain)
    watcher.step()
    before = chain.snapshot()
    tx = chain.transfer(chain.usdc, 1, address_of(session), 10_000_000).lower()
    chain.mine(CONFIRMATIONS)
    assert watcher.step().confirmed == 1
    assert get(shop, session["id"])["status"] == "complete"
    chain.mine(2)  # the transfer now has CONFIRMATIONS + 2 blocks on top
    old_head = chain.head()

    # A longer fork without the transfer replaces every block since the snapshot.
    chain.revert(before)
    chain.mine(CONFIRMATIONS + 6)
    assert chain.head() > old_head
    stats = watcher.step()

    assert stats.reorged == 1, stats
    body = get(shop, session["id"])
    assert (body["status"], body["paymentStatus"], body["amountReceived"]) == ("complete", "paid", str(10 * USDC))
    [listed] = body["paymentIntent"]["transactions"]
    assert (listed["transactionHash"], listed["status"], listed["kind"]) == (tx, "reorged", "payment")
    assert event_types(live, session["id"]) == ["checkout_session.completed", "payment.reorged"]
    events = shop.http.get("/api/v1/events", params={"type": "payment.reorged", "objectId": session["id"]}).json()
    [event] = events["data"]
    assert event["data"]["object"]["transactionHash"] == tx
    assert event["data"]["object"]["status"] == "reorged"
    assert event["data"]["object"]["checkoutSessionId"] == session["id"]
    detail = shop.http.get(f"/api/v1/events/{event['id']}").json()
    assert [d["webhookEndpointId"] for d in detail["deliveries"]] == [hook.json()["id"]]

    # Looking again changes nothing: reported once.
    chain.mine(1)
    assert watcher.step().reorged == 0
    assert event_types(live, session["id"]) == ["checkout_session.completed", "payment.reorged"]
    assert shop.http.delete(f"/api/v1/webhook-endpoints/{hook.json()['id']}").status_code == 200


def test_reorged_part_payment_no_longer_counts(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session = chain_session(live, shop, chain)
    watcher.step()
    before = chain.snapshot()
    chain.transfer(chain.usdc, 1, address_of(session), 6_000_000)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    assert get(shop, session["id"])["amountReceived"] == str(6 * USDC)
    chain.revert(before)
    chain.mine(CONFIRMATIONS + 4)
    assert watcher.step().reorged == 1
    assert get(shop, session["id"])["status"] == "incomplete"  # left as it was
    # The 4 USDC that were missing before the reorg no longer complete it: only confirmed transfers count.
    chain.transfer(chain.usdc, 2, address_of(session), 4_000_000)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    body = get(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("incomplete", str(4 * USDC))
    assert sorted(t["status"] for t in body["paymentIntent"]["transactions"]) == ["confirmed", "reorged"]
    assert event_types(live, session["id"]) == [
        "checkout_session.partially_paid",
        "payment.reorged",
        "checkout_session.partially_paid",
    ]


def confirmed_signed_payment(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher, raw_amount: int
) -> tuple[dict[str, Any], Any, str, str]:
    """A session paid `raw_amount` by a signed transfer, confirmed and seen by the watcher: (session, the snapshot
    taken just before the transfer, the raw signed transaction to send again on a fork, its hash)."""
    session = chain_session(live, shop, chain)
    watcher.step()
    before = chain.snapshot()
    raw = signed_transfer(chain, chain.usdc, 1, address_of(session), raw_amount)
    tx = send_raw(chain, raw)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    return session, before, raw, tx


def test_reorged_transfer_reincluded_in_another_block_is_credited_once(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session, before, raw, tx = confirmed_signed_payment(live, shop, chain, watcher, 6_000_000)
    [(_, state, first_block)] = transfer_states(live, session["id"])
    assert state == "confirmed"
    assert get(shop, session["id"])["amountReceived"] == str(6 * USDC)
    chain.mine(2)

    # The fork drops the block, then carries the very same transaction two blocks later than before.
    chain.revert(before)
    chain.mine(2)
    assert send_raw(chain, raw) == tx
    chain.mine(CONFIRMATIONS + 4)
    stats = watcher.step()

    assert stats.reorged == 0, stats  # moved to its new block by the rescan before anything was re-checked
    [(tx_hash, state, block)] = transfer_states(live, session["id"])
    assert (tx_hash, state) == (tx, "confirmed")
    assert block == first_block + 2
    body = get(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("incomplete", str(6 * USDC))
    # The top-up completes it at exactly the price: the re-included 6 USDC counted once, not twice.
    chain.transfer(chain.usdc, 2, address_of(session), 4_000_000)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    done = get(shop, session["id"])
    assert (done["status"], done["amountReceived"]) == ("complete", str(10 * USDC))
    assert len(done["paymentIntent"]["transactions"]) == 2
    assert event_types(live, session["id"]) == ["checkout_session.partially_paid", "checkout_session.completed"]


def test_the_payment_that_completed_a_session_reincluded_elsewhere_is_not_reported_as_extra(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    """The transfer that paid for the order, moved to another block by a reorg, is still that payment: not a
    payment after completion that the merchant would be told to refund."""
    session, before, raw, tx = confirmed_signed_payment(live, shop, chain, watcher, 10_000_000)
    assert get(shop, session["id"])["status"] == "complete"
    chain.mine(2)

    chain.revert(before)
    chain.mine(2)
    assert send_raw(chain, raw) == tx
    chain.mine(CONFIRMATIONS + 4)
    watcher.step()

    body = get(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("complete", str(10 * USDC))
    [transaction] = body["paymentIntent"]["transactions"]
    assert (transaction["transactionHash"], transaction["kind"]) == (tx, "payment")
    assert event_types(live, session["id"]) == ["checkout_session.completed"]


def test_reorged_transfer_that_comes_back_later_counts_again_once(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session, before, raw, tx = confirmed_signed_payment(live, shop, chain, watcher, 6_000_000)
    chain.revert(before)
    chain.mine(CONFIRMATIONS + 4)
    assert watcher.step().reorged == 1  # gone, as far as anyone can tell

    assert send_raw(chain, raw) == tx  # and back, in a block the watcher has not seen yet
    chain.mine(CONFIRMATIONS)
    watcher.step()
    [(_, state, _)] = transfer_states(live, session["id"])
    assert state == "confirmed"
    assert get(shop, session["id"])["amountReceived"] == str(6 * USDC)
    chain.transfer(chain.usdc, 2, address_of(session), 4_000_000)
    chain.mine(CONFIRMATIONS)
    watcher.step()
    done = get(shop, session["id"])
    assert (done["status"], done["amountReceived"]) == ("complete", str(10 * USDC))
    assert event_types(live, session["id"]) == [
        "checkout_session.partially_paid",
        "payment.reorged",
        "checkout_session.completed",
    ]


@pytest.fixture(scope="module")
def devnet() -> Iterator[DevnetChain]:
    """The dev chain alone: it can return to a fork it left (eth-tester keeps the blocks), which anvil cannot."""
    harness = start_chain("devnet", CONFIRMATIONS, 1343)
    assert isinstance(harness, DevnetChain)
    yield harness
    harness.close()


def test_reorged_transfer_whose_own_block_returns_counts_again(
    live: LiveServer, shop: Merchant, devnet: DevnetChain
) -> None:
    """The chain leaves the fork holding the transfer, then returns to it: the very block (same hash) is
    canonical again, and the transfer counts again."""
    watcher = ChainWatcher(live.settings, live.database, devnet.chain, devnet.rpc, owner="reorg-flip")
    session = chain_session(live, shop, devnet)
    watcher.step()
    before = devnet.snapshot()
    devnet.transfer(devnet.usdc, 1, address_of(session), 6_000_000)
    devnet.mine(CONFIRMATIONS)
    watcher.step()
    [(tx, _, block)] = transfer_states(live, session["id"])
    devnet.mine(2)
    fork_a = devnet.snapshot()
    devnet.revert(before)
    devnet.mine(CONFIRMATIONS + 6)
    assert watcher.step().reorged == 1
    devnet.revert(fork_a)  # back to the first fork, which grows past the second
    # DevChain.revert drops the log index above the new head only (a revert normally goes back along the chain);
    # on the first fork again, the second fork's logs below it must go too: the index is rebuilt.
    devnet.dev._logs.clear()
    devnet.dev._indexed_to = 0
    devnet.mine(CONFIRMATIONS + 10)
    watcher.step()
    assert transfer_states(live, session["id"]) == [(tx, "confirmed", block)]
    assert get(shop, session["id"])["amountReceived"] == str(6 * USDC)
    devnet.transfer(devnet.usdc, 2, address_of(session), 4_000_000)
    devnet.mine(CONFIRMATIONS)
    watcher.step()
    assert (get(shop, session["id"])["status"], get(shop, session["id"])["amountReceived"]) == (
        "complete",
        str(10 * USDC),
    )


class ReorgOnGetLogs:
    """Stages a reorg in the middle of a watcher step: after the cursor check, when the scan asks for logs."""

    def __init__(self, chain: TestChain, snapshot: object, blocks: int) -> None:
        self.chain, self.snapshot, self.blocks = chain, snapshot, blocks
        self.armed = True

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "eth_getLogs" and self.armed:
            self.armed = False
            self.chain.revert(self.snapshot)
            self.chain.mine(self.blocks)
        return self.chain.rpc.call(method, params)


def test_reorg_in_the_middle_of_a_step_still_reaches_confirmed_transfers(
    live: LiveServer, shop: Merchant, chain: TestChain
) -> None:
    """The cursor check passes, then the chain reorganizes before the pending transfers are confirmed: the
    pending one is orphaned there, and the next step re-checks the confirmed ones too."""
    paid, waiting = chain_session(live, shop, chain), chain_session(live, shop, chain)
    steady = ChainWatcher(live.settings, live.database, chain.chain, chain.rpc, owner=f"reorg-{chain.chain.id}")
    steady.step()
    before = chain.snapshot()
    chain.transfer(chain.usdc, 1, address_of(paid), 10_000_000)
    chain.mine(CONFIRMATIONS)
    steady.step()
    assert get(shop, paid["id"])["status"] == "complete"
    chain.transfer(chain.usdc, 2, address_of(waiting), 1_000_000)
    chain.mine(1)  # the cursor check looks at a later block than the pending transfer's
    steady.step()  # recorded, pending
    chain.mine(CONFIRMATIONS)  # deep enough for the next step to confirm it

    reorging = ReorgOnGetLogs(chain, before, 4 * CONFIRMATIONS + 8)
    watcher = ChainWatcher(live.settings, live.database, chain.chain, reorging, owner=f"reorg-{chain.chain.id}")
    assert watcher.step().orphaned == 1
    assert watcher.step().reorged == 1

    assert [t["status"] for t in get(shop, paid["id"])["paymentIntent"]["transactions"]] == ["reorged"]
    assert get(shop, paid["id"])["status"] == "complete"
    assert get(shop, waiting["id"])["paymentIntent"]["transactions"] == []  # orphaned: not listed
    assert event_types(live, paid["id"]) == ["checkout_session.completed", "payment.reorged"]
    assert event_types(live, waiting["id"]) == []
