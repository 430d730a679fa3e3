"""The watcher's scenarios on two real EVMs — the built-in dev chain and anvil — with the watcher stepped by
hand, so each scenario controls exactly which blocks exist when the watcher looks."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chain_harness import AnvilChain, DevnetChain, TestChain
from chain_sessions import MERCHANT, address_of, chain_session, event_types, get
from factories import USDC
from kassa.chains.devnet import RpcError
from kassa.chains.rpc import to_int
from kassa.checkout.service.create import DEFAULT_LIFETIME
from kassa.checkout.service.expire import expire_if_due
from kassa.payments.guards import MAX_WAIT
from kassa.payments.recording import block_info_from
from kassa.payments.watcher import ChainWatcher
from support import LiveServer, Merchant

CONFIRMATIONS = 3
RACE_ROUNDS = 6
EXPIRERS = 3
STAGGER_SECONDS = 0.012


@pytest.fixture(scope="module", params=["devnet", "anvil"])
def chain(request: pytest.FixtureRequest) -> Iterator[TestChain]:
    harness: TestChain
    harness = DevnetChain(CONFIRMATIONS) if request.param == "devnet" else AnvilChain(CONFIRMATIONS)
    yield harness
    harness.close()


@pytest.fixture
def watcher(live: LiveServer, chain: TestChain) -> ChainWatcher:
    # One owner per chain and database, as one long-lived watcher process would be.
    return ChainWatcher(live.settings, live.database, chain.chain, chain.rpc, owner=f"scenario-{chain.chain.id}")


def confirm(chain: TestChain, watcher: ChainWatcher) -> None:
    """Mine enough blocks for everything seen so far to be confirmed, and let the watcher look."""
    chain.mine(CONFIRMATIONS)
    watcher.step()


def test_exact_payment(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    session = chain_session(live, shop, chain)
    tx = chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    stats = watcher.step()
    seen = get(shop, session["id"])
    assert stats.recorded == 1, stats
    assert seen["status"] == "open"
    assert seen["paymentIntent"]["status"] == "processing"
    [pending] = seen["paymentIntent"]["transactions"]
    assert (pending["transactionHash"], pending["status"], pending["amountRaw"]) == (tx, "pending", "10000000")
    confirm(chain, watcher)
    done = get(shop, session["id"])
    assert (done["status"], done["paymentStatus"], done["paymentIntent"]["status"]) == ("complete", "paid", "succeeded")
    assert done["amountReceived"] == str(10 * USDC)
    assert [t["status"] for t in done["paymentIntent"]["transactions"]] == ["confirmed"]
    assert event_types(live, session["id"]) == ["checkout_session.completed"]


def test_one_raw_unit_short_then_top_up(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdc, 1, address_of(session), 9_999_999)
    confirm(chain, watcher)
    partial = get(shop, session["id"])
    assert (partial["status"], partial["paymentStatus"], partial["amountReceived"]) == (
        "incomplete",
        "unpaid",
        str(10 * USDC - 100),
    )
    chain.transfer(chain.usdc, 2, address_of(session), 1)
    confirm(chain, watcher)
    done = get(shop, session["id"])
    assert (done["status"], done["amountReceived"]) == ("complete", str(10 * USDC))
    assert event_types(live, session["id"]) == ["checkout_session.partially_paid", "checkout_session.completed"]


def test_two_transfers_together_pay(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdc, 1, address_of(session), 4_000_000)
    chain.transfer(chain.usdc, 2, address_of(session), 6_000_000)
    confirm(chain, watcher)
    done = get(shop, session["id"])
    assert done["status"] == "complete"
    assert len(done["paymentIntent"]["transactions"]) == 2
    assert event_types(live, session["id"]) == ["checkout_session.completed"]


def test_overpayment(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdc, 1, address_of(session), 12_500_000)
    confirm(chain, watcher)
    done = get(shop, session["id"])
    assert (done["status"], done["amountReceived"], done["amountTotal"]) == (
        "complete",
        str(1250 * USDC // 100),
        str(10 * USDC),
    )


def test_wrong_token(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdt, 1, address_of(session), 10_000_000)
    confirm(chain, watcher)
    body = get(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("open", "0")
    [transfer] = body["paymentIntent"]["transactions"]
    assert (transfer["currency"], transfer["kind"], transfer["status"]) == ("usdt", "wrong_currency", "confirmed")
    assert event_types(live, session["id"]) == ["payment.unmatched"]


def test_payment_after_expiry(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    # The session was opened two hours ago (Kassa's clock moved back for its creation), so it expired an
    # hour ago and a transfer mined now is late. The chain's own time is left alone.
    live.clock.advance(-timedelta(hours=2))
    try:
        session = chain_session(live, shop, chain)
    finally:
        live.clock.advance(timedelta(hours=2))
    chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    confirm(chain, watcher)
    body = get(shop, session["id"])
    # Never credited. Still open, or already expired by the server's expiry job (a late transfer holds nothing).
    assert (body["status"], body["paymentStatus"], body["amountReceived"]) in {
        ("open", "unpaid", "0"),
        ("expired", "unpaid", "0"),
    }
    [transfer] = body["paymentIntent"]["transactions"]
    assert transfer["kind"] == "late"
    assert "payment.unmatched" in event_types(live, session["id"])
    with live.database.write_sessions() as db:
        expire_if_due(db, live.clock, uuid.UUID(session["id"]), live.settings.public_url)
        db.commit()
    assert get(shop, session["id"])["status"] == "expired"
    assert event_types(live, session["id"]).count("checkout_session.expired") == 1


def test_unconfirmed_at_expiry_then_confirmed(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    watcher.step()  # seen, not confirmed
    live.clock.advance(timedelta(hours=1, minutes=1))
    try:
        with live.database.write_sessions() as db:
            # Expiry waits: a transfer included before expiresAt is still confirming.
            assert not expire_if_due(db, live.clock, uuid.UUID(session["id"]), live.settings.public_url)
            db.commit()
        confirm(chain, watcher)
    finally:
        live.clock.advance(-timedelta(hours=1, minutes=1))
    done = get(shop, session["id"])
    assert done["status"] == "complete"
    assert event_types(live, session["id"]) == ["checkout_session.completed"]


def head_timestamp(chain: TestChain) -> int:
    return to_int(chain.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"])


def session_expiring_at(live: LiveServer, shop: Merchant, chain: TestChain, expires_at: datetime) -> dict[str, Any]:
    """A session whose expiresAt is `expires_at`: Kassa's clock is moved for its creation only."""
    shift = expires_at - (live.clock.now() + DEFAULT_LIFETIME)
    live.clock.advance(shift)
    try:
        return chain_session(live, shop, chain)
    finally:
        live.clock.advance(-shift)


def race_expiry_against(live: LiveServer, session_id: str, step: Callable[[], object], delay: float = 0.0) -> int:
    """Run `step` in one thread and expiry (what the expiry job runs) over and over in EXPIRERS others, all
    released together by a barrier, the expirers `delay` seconds later; they stop after one last try once `step`
    is done. Returns how many expiry calls expired the session."""
    barrier = threading.Barrier(EXPIRERS + 1, timeout=30)
    stepped = threading.Event()

    def run_step() -> None:
        barrier.wait()
        try:
            step()
        finally:
            stepped.set()

    def expire() -> int:
        barrier.wait()
        time.sleep(delay)
        won = 0
        while True:
            last = stepped.is_set()
            with live.database.write_sessions() as db:
                won += expire_if_due(db, live.clock, uuid.UUID(session_id), live.settings.public_url)
                db.commit()
            if last:
                return won
            time.sleep(0.001)  # let the watcher's transactions in between (SQLite has one writer at a time)

    with ThreadPoolExecutor(max_workers=EXPIRERS + 1) as pool:
        stepping = pool.submit(run_step)
        expiring = [pool.submit(expire) for _ in range(EXPIRERS)]
        stepping.result()
        return sum(f.result() for f in expiring)


@pytest.mark.parametrize("case", ["included at expiresAt", "included a second late", "confirmed after the wait"])
def test_expiry_and_the_watchers_crediting_race_to_one_outcome(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher, case: str
) -> None:
    """The session's time is up at the very moment the watcher steps (records, confirms and credits a payment),
    while expiry runs in other threads started together with it, and the server's expiry job tries too.

    - A transfer included at expiresAt counts: the session completes and never expires.
    - One included a second later is late: reported, never credited, and the session expires once.
    - One included in time but confirmed after expiresAt + MAX_WAIT (a stuck watcher), when expiry no longer
      waits: either side may win, but the session ends once, and a payment it did not take is reported.

    Each case runs RACE_ROUNDS times on fresh sessions whose expiresAt is half a second after a block time the
    test sets on the chain."""
    outcomes = set()
    for round_number in range(RACE_ROUNDS):
        watcher.step()  # the cursor at the head, so the step in the race sees this round's blocks only
        second = head_timestamp(chain) + 2
        expires_at = datetime.fromtimestamp(second, UTC) + timedelta(milliseconds=500)
        session = session_expiring_at(live, shop, chain, expires_at)
        chain.set_next_timestamp(second + 1 if case == "included a second late" else second)
        chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
        race_at, delay = expires_at + timedelta(milliseconds=100), 0.0
        if case == "confirmed after the wait":
            watcher.step()  # recorded while the session was open, still confirming
            # Expiry is due at once here; starting it a little later each round moves the moment of contention
            # across the watcher's step (tens of milliseconds), so either side gets to win.
            race_at, delay = race_at + MAX_WAIT, round_number * STAGGER_SECONDS
        chain.mine(CONFIRMATIONS)
        # Kassa's clock just past the moment (the dev chain's time may run ahead of the wall clock).
        shift = max(timedelta(), race_at - live.clock.now())
        live.clock.advance(shift)
        try:
            won = race_expiry_against(live, session["id"], watcher.step, delay)
        finally:
            live.clock.advance(-shift)
        body = get(shop, session["id"])
        [transfer] = body["paymentIntent"]["transactions"]
        types = event_types(live, session["id"])
        outcomes.add(body["status"])
        assert transfer["status"] == "confirmed"
        if body["status"] == "complete":
            assert case != "included a second late"
            assert (body["amountReceived"], transfer["kind"]) == (str(10 * USDC), "payment")
            assert types == ["checkout_session.completed"]
            assert won == 0
        else:
            assert case != "included at expiresAt", (transfer["kind"], types)
            assert (body["status"], body["amountReceived"], transfer["kind"]) == ("expired", "0", "late")
            assert sorted(types) == ["checkout_session.expired", "payment.unmatched"]
            assert won <= 1  # the server's own expiry job may have been the one
    if case != "confirmed after the wait":
        assert len(outcomes) == 1  # the rule decides, not the timing


def test_reorg_before_confirmation(live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher) -> None:
    session = chain_session(live, shop, chain)
    watcher.step()
    before = chain.snapshot()
    chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    chain.mine(1)
    watcher.step()
    assert get(shop, session["id"])["paymentIntent"]["status"] == "processing"
    # Reorg of depth 2: both blocks after the snapshot are replaced by others without the payment.
    chain.revert(before)
    chain.mine(CONFIRMATIONS + 1)
    watcher.step()
    watcher.step()
    body = get(shop, session["id"])
    assert (body["status"], body["amountReceived"]) == ("open", "0")
    assert body["paymentIntent"]["transactions"] == []
    assert body["paymentIntent"]["status"] == "requires_payment_method"
    assert event_types(live, session["id"]) == []


class FlakyRpc:
    """Fails the n-th eth_getLogs call, as a node that drops a request mid-scan would."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.get_logs = 0

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "eth_getLogs":
            self.get_logs += 1
            if self.get_logs == self.fail_on:
                raise RpcError(-32603, "connection reset")
        return self.inner.call(method, params)


def test_rpc_outage_mid_scan_loses_no_block(live: LiveServer, shop: Merchant, chain: TestChain) -> None:
    narrow = dataclasses.replace(chain.chain, max_block_range=2)
    steady = ChainWatcher(live.settings, live.database, narrow, chain.rpc, owner=f"scenario-{chain.chain.id}")
    steady.step()
    session = chain_session(live, shop, chain)
    chain.mine(3)
    chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    chain.mine(CONFIRMATIONS)
    flaky = ChainWatcher(
        live.settings, live.database, narrow, FlakyRpc(chain.rpc, fail_on=2), owner=f"scenario-{chain.chain.id}"
    )
    with pytest.raises(RpcError):
        flaky.step()
    assert get(shop, session["id"])["status"] == "open"
    flaky.step()
    flaky.step()
    done = get(shop, session["id"])
    assert done["status"] == "complete"
    assert len(done["paymentIntent"]["transactions"]) == 1


def test_watcher_restart_mid_scan(live: LiveServer, shop: Merchant, chain: TestChain) -> None:
    narrow = dataclasses.replace(chain.chain, max_block_range=1)
    first = ChainWatcher(live.settings, live.database, narrow, chain.rpc, owner=f"scenario-{chain.chain.id}")
    first.step()
    session = chain_session(live, shop, chain)
    chain.transfer(chain.usdc, 1, address_of(session), 10_000_000)
    chain.mine(CONFIRMATIONS + 2)
    first.chunks_per_step = 1
    first.step()  # one block further, then the process "dies" holding its lease
    second = ChainWatcher(live.settings, live.database, narrow, chain.rpc, owner=f"replacement-{uuid.uuid4().hex[:6]}")
    assert second.step().leased is False  # stands by while the lease is live
    live.clock.advance(timedelta(seconds=31))
    try:
        for _ in range(3):
            second.step()
    finally:
        second.release_lease()
        live.clock.advance(-timedelta(seconds=31))
    done = get(shop, session["id"])
    assert done["status"] == "complete"
    assert len(done["paymentIntent"]["transactions"]) == 1
    assert event_types(live, session["id"]) == ["checkout_session.completed"]


def test_twenty_sessions_paid_in_one_block(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    sessions = [chain_session(live, shop, chain, amount=(i + 1) * USDC) for i in range(20)]
    hashes = chain.batch([(chain.usdc, 1 + i % 3, address_of(s), (i + 1) * 1_000_000) for i, s in enumerate(sessions)])
    assert len(set(hashes)) == 20
    confirm(chain, watcher)
    blocks = set()
    for session in sessions:
        done = get(shop, session["id"])
        assert done["status"] == "complete", session["id"]
        [transfer] = done["paymentIntent"]["transactions"]
        blocks.add(transfer["blockNumber"])
        assert event_types(live, session["id"]) == ["checkout_session.completed"]
    assert len(blocks) == 1


def test_forwarder_address_matches_the_factory_deployment(
    live: LiveServer, shop: Merchant, chain: TestChain, watcher: ChainWatcher
) -> None:
    """The address Kassa computes in Python is where the factory deploys, and only the merchant is paid."""
    from kassa.chains.contracts import call_data

    def balance(owner: str) -> int:
        out = chain.rpc.call(
            "eth_call",
            [{"to": chain.usdc, "data": "0x" + call_data("balanceOf(address)", ["address"], [owner]).hex()}, "latest"],
        )
        return to_int(out)

    session = chain_session(live, shop, chain)
    deposit = address_of(session)
    chain.transfer(chain.usdc, 1, deposit, 7_000_000)
    # The merchant's wallet is shared by every run on this chain: what it holds now is the baseline.
    merchant_before, trigger_before = balance(MERCHANT), balance(chain.accounts[3])
    assert balance(deposit) == 7_000_000
    salt = bytes(32)
    with live.database.read_sessions() as db:
        from sqlalchemy import select

        from kassa.payments.models import DepositAddress

        row = db.scalar(select(DepositAddress).where(DepositAddress.session_id == uuid.UUID(session["id"])))
        assert row is not None
        salt = bytes.fromhex(row.salt[2:])
    data = call_data(
        "deployAndForward(bytes32,address[],uint256[],address[])",
        ["bytes32", "address[]", "uint256[]", "address[]"],
        [salt, [MERCHANT], [100], [chain.usdc]],
    )
    # Anyone may trigger it: account #3 is neither buyer nor merchant.
    factory = chain.chain.factory_address
    assert factory is not None
    if isinstance(chain, AnvilChain):
        tx = chain._receipt(chain._send(factory, data, sender=3))["transactionHash"]
    else:
        tx = chain.dev.transact(chain.accounts[3], factory, data)
    receipt = chain.rpc.call("eth_getTransactionReceipt", [tx])
    assert to_int(receipt["status"]) == 1
    assert chain.rpc.call("eth_getCode", [deposit, "latest"]) not in ("0x", "0x0", None)
    assert balance(deposit) == 0
    assert balance(MERCHANT) == merchant_before + 7_000_000
    assert balance(chain.accounts[3]) == trigger_before


def test_dev_chain_restart_is_noticed_and_rescanned(live: LiveServer, shop: Merchant) -> None:
    """A restarted dev chain has a new genesis: pending transfers of the old one are orphaned, the cursor starts
    again from zero, and payments on the new chain are found."""
    from kassa.payments.models import ChainCursor, ChainTransfer

    def genesis(chain: DevnetChain) -> str:
        return block_info_from(chain.rpc.call("eth_getBlockByNumber", ["0x0", False])).hash

    def transfer_states() -> list[str]:
        with live.database.read_sessions() as db:
            rows = db.scalars(select(ChainTransfer.state).where(ChainTransfer.session_id == uuid.UUID(session["id"])))
            return list(rows)

    old = DevnetChain(CONFIRMATIONS)
    old.chain = dataclasses.replace(old.chain, id=1339)
    watcher = ChainWatcher(live.settings, live.database, old.chain, old.rpc, owner="restart-test")
    session = chain_session(live, shop, old)
    old.transfer(old.usdc, 1, address_of(session), 1_000_000)
    watcher.step()
    assert get(shop, session["id"])["paymentIntent"]["status"] == "processing"
    with live.database.read_sessions() as db:
        cursor = db.get(ChainCursor, 1339)
        assert cursor is not None
        old_genesis, old_last = cursor.genesis_hash, cursor.last_block
    assert (old_genesis, old_last) == (genesis(old), old.head())
    assert transfer_states() == ["pending"]

    new = DevnetChain(CONFIRMATIONS)  # same contracts (same deployer and nonces), new genesis
    new.chain = dataclasses.replace(new.chain, id=1339)
    watcher.rpc = new.rpc
    watcher.step()
    with live.database.read_sessions() as db:
        cursor = db.get(ChainCursor, 1339)
        assert cursor is not None
        assert (cursor.genesis_hash, cursor.last_block) == (genesis(new), new.head())
    assert genesis(new) != old_genesis
    assert new.head() < old_last  # the cursor went back below the old chain's height: scanned from zero
    assert transfer_states() == ["orphaned"]
    assert get(shop, session["id"])["paymentIntent"]["transactions"] == []  # the old chain's transfer is gone
    new.transfer(new.usdc, 1, address_of(session), 10_000_000)
    confirm(new, watcher)
    done = get(shop, session["id"])
    assert (done["status"], done["amountReceived"]) == ("complete", str(10 * USDC))
    assert sorted(transfer_states()) == ["confirmed", "orphaned"]
