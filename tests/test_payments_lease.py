"""The chain lease: one active watcher per chain, and a stopped one hands over at once."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from chain_harness import DevnetChain
from kassa.payments.services import run_watcher
from kassa.payments.watcher import ChainWatcher, StepStats
from support import LiveServer


@pytest.fixture(scope="module")
def chain() -> DevnetChain:
    return DevnetChain()


def test_a_stopped_watcher_releases_its_lease_to_the_standby(live: LiveServer, chain: DevnetChain) -> None:
    # A chain id of its own, so no other test's lease on the same database is in the way.
    own = dataclasses.replace(chain.chain, id=900_000 + uuid.uuid4().int % 90_000)
    stepped = threading.Event()

    def on_step(stats: StepStats) -> None:
        stepped.set()

    first = ChainWatcher(live.settings, live.database, own, chain.rpc, owner="active", on_step=on_step)
    standby = ChainWatcher(live.settings, live.database, own, chain.rpc, owner="standby")
    stop = threading.Event()
    thread = threading.Thread(target=run_watcher, args=(first, stop), daemon=True)
    thread.start()
    try:
        assert stepped.wait(timeout=60)
        assert standby.step().leased is False  # the lease is live (the test clock stands still: it never runs out)
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert standby.step().leased is True  # its very next step, not 30 s later
    finally:
        stop.set()
        standby.release_lease()
