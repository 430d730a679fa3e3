"""Watcher benchmarks (issue 5).

1. Cost of scanning the same 1,000 blocks with 10, 10,000 and 100,000 watched deposit addresses: RPC calls
   (which must not change with the number of addresses) and CPU seconds.
2. Latency from a payment's confirming block to its session being complete, on anvil with a 1 s poll.

Run: `make bench` or `.venv/bin/python -m bench.watcher_cost [--blocks 1000] [--backend sqlite|postgresql]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.harness import database_url
from kassa.auth.organizations import create_organization
from kassa.chains.devnet import DevChain
from kassa.chains.registry import ChainRegistry
from kassa.chains.rpc import DevChainRpc, HttpRpc, Rpc
from kassa.checkout.schemas import SessionCreate
from kassa.checkout.service.create import create_session
from kassa.clock import SystemClock
from kassa.config import load_settings
from kassa.db.engine import make_database
from kassa.db.migrate import upgrade
from kassa.payments.models import ChainCursor, DepositAddress
from kassa.payments.watcher import ChainWatcher

MERCHANT = "0x" + "5e" * 20


class CountingRpc:
    def __init__(self, inner: Rpc) -> None:
        self.inner = inner
        self.calls = 0

    def call(self, method: str, params: list[Any]) -> Any:
        self.calls += 1
        return self.inner.call(method, params)


def _sessions(db: Any, clock: Any, org: Any, registry: ChainRegistry, chain_id: int, n: int) -> list[str]:
    from kassa.auth.keys import Principal
    from kassa.catalog.schemas import PriceCreate
    from kassa.catalog.service import create_price

    principal = Principal.of(org.id, "test")
    price = create_price(
        db,
        clock,
        principal,
        PriceCreate.model_validate({"productData": {"name": "Bench"}, "currency": "usdc", "unitAmount": 100_000_000}),
    )
    addresses = []
    for _ in range(n):
        data = SessionCreate.model_validate(
            {
                "successUrl": "https://shop.example.com/ok",
                "lineItems": {"data": [{"priceId": str(price.id)}]},
                "paymentSetting": {"allowedChains": [{"chainId": chain_id, "withdrawalAddress": MERCHANT}]},
            }
        )
        session = create_session(db, clock, principal, registry, data)
        addresses.append(next(a for a in [db.query(DepositAddress).filter_by(session_id=session.id).one()]).address)
    return addresses


def scan_cost(backend: str, blocks: int) -> None:
    dev = DevChain(chain_id=4242, confirmations=2)
    chain = replace(dev.chain("http://127.0.0.1:9"), id=4242, max_block_range=500)
    registry = ChainRegistry({chain.id: chain})
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(backend, Path(tmp))
        upgrade(url)
        database = make_database(url)
        clock = SystemClock()
        settings = load_settings({"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": tmp})
        with database.write_sessions() as db:
            org, _ = create_organization(db, clock, "Bench", "test")
            paid = _sessions(db, clock, org, registry, chain.id, 10)
            db.commit()
        # 1,000 blocks: 50 payments to 10 real sessions, the rest empty or paying strangers.
        start = dev.rpc("eth_blockNumber", [])
        for i in range(blocks):
            if i % 20 == 0:
                dev.transfer(dev.contracts.usdc, dev.accounts[1], paid[i // 20 % len(paid)], 100_000_000)
            elif i % 7 == 0:
                dev.transfer(dev.contracts.usdc, dev.accounts[2], "0x" + (uuid.uuid4().hex + uuid.uuid4().hex)[:40], 5)
            else:
                dev.mine()
        first = int(start, 16)
        print(
            f"\n[{backend}] scanning blocks {first + 1}..{first + blocks} of the dev chain "
            "(eth_getLogs in 500-block chunks)"
        )
        watched = 10
        for target in (10, 10_000, 100_000):
            if target > watched:
                rows: list[dict[str, Any]] = [
                    {
                        "id": uuid.uuid4(),
                        "session_id": uuid.uuid4(),
                        "organization_id": org.id,
                        "mode": "test",
                        "chain_id": chain.id,
                        "address": "0x" + (uuid.uuid4().hex + uuid.uuid4().hex)[:40],
                        "factory_address": chain.factory_address,
                        "salt": "0x" + "00" * 32,
                        "recipients": [],
                        "asset": {},
                        "chain_name": "x",
                        "explorer_name": "",
                        "explorer_tx_url": "",
                        "created_at": clock.now(),
                    }
                    for _ in range(target - watched)
                ]
                with database.write_sessions() as db:
                    for offset in range(0, len(rows), 5000):
                        db.execute(insert(DepositAddress), rows[offset : offset + 5000])
                    db.commit()
                watched = target
            with database.write_sessions() as db:
                db.query(ChainCursor).filter_by(chain_id=chain.id).delete()
                db.commit()
                from kassa.payments.models import ChainTransfer

                db.query(ChainTransfer).filter_by(chain_id=chain.id).delete()
                db.commit()
            rpc = CountingRpc(DevChainRpc(dev))
            watcher = ChainWatcher(settings, database, chain, rpc, owner=f"bench-{target}")
            cpu, wall = time.process_time(), time.perf_counter()
            recorded = 0
            while True:
                stats = watcher.step()
                recorded += stats.recorded
                if stats.scanned_to is None:
                    break
            print(
                f"  {watched:>7} watched addresses: {rpc.calls:>4} RPC calls, "
                f"{time.process_time() - cpu:6.2f} CPU s, {time.perf_counter() - wall:6.2f} s wall, "
                f"{recorded} transfers recorded"
            )
        database.dispose()


def confirm_latency(rounds: int) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from chain_harness import AnvilChain  # the same harness the tests use

    chain = AnvilChain(confirmations=2)
    anvil_chain = replace(chain.chain, poll_seconds=1.0)
    registry = ChainRegistry({anvil_chain.id: anvil_chain})
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url("sqlite", Path(tmp))
        upgrade(url)
        database = make_database(url)
        clock = SystemClock()
        settings = load_settings({"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": tmp})
        with database.write_sessions() as db:
            org, _ = create_organization(db, clock, "Bench", "test")
            addresses = _sessions(db, clock, org, registry, anvil_chain.id, rounds)
            db.commit()
        watcher = ChainWatcher(settings, database, anvil_chain, HttpRpc(str(anvil_chain.rpc_url)), owner="latency")
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        from sqlalchemy import select

        from kassa.payments.models import ChainTransfer

        latencies = []
        rng = random.Random(7)
        for address in addresses:
            # A random pause, so payments do not arrive in step with the watcher's poll.
            time.sleep(rng.uniform(0, anvil_chain.poll_seconds))
            chain.transfer(chain.usdc, 1, address, 1_000_000 * 100)
            chain.mine(1)  # the confirming block (2 confirmations)
            mined = time.perf_counter()
            while True:
                with database.read_sessions() as db:
                    state = db.scalar(select(ChainTransfer.state).where(ChainTransfer.to_address == address.lower()))
                if state == "confirmed":
                    latencies.append(time.perf_counter() - mined)
                    break
                time.sleep(0.005)
        stop.set()
        thread.join()
        chain.close()
        database.dispose()
        latencies.sort()
        print(
            f"\nconfirming block → session complete on anvil, 1 s poll, {rounds} payments: "
            f"p50 {statistics.median(latencies):.2f} s, "
            f"p99 {latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]:.2f} s, "
            f"max {latencies[-1]:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        scan_cost(backend, args.blocks)
    confirm_latency(args.rounds)


if __name__ == "__main__":
    main()
