"""The chain side of a process: the dev chain's miner and one watcher thread per enabled chain."""

from __future__ import annotations

import threading

from kassa.api.runtime import Runtime
from kassa.chains.registry import DEV_CHAIN_ID, Chain
from kassa.chains.rpc import DevChainRpc, HttpRpc, Rpc
from kassa.logs import get_logger
from kassa.payments.watcher import ChainWatcher

log = get_logger("kassa.watcher")
Thread = tuple[threading.Thread, threading.Event]


def rpc_for(runtime: Runtime, chain: Chain) -> Rpc:
    """The dev chain is called in process; every other chain over HTTP."""
    if chain.id == DEV_CHAIN_ID and runtime.devnet is not None:
        return DevChainRpc(runtime.devnet)
    assert chain.rpc_url is not None
    return HttpRpc(chain.rpc_url)


def watchers_for(runtime: Runtime) -> list[ChainWatcher]:
    return [
        ChainWatcher(runtime.settings, runtime.db, chain, rpc_for(runtime, chain))
        for chain in runtime.chains.chains.values()
        # Only chains with a factory can have deposit addresses, so only they have anything to watch.
        if chain.enabled
        and chain.factory_address is not None
        and (chain.id != DEV_CHAIN_ID or runtime.devnet is not None)
    ]


def run_watcher(watcher: ChainWatcher, stop: threading.Event) -> None:
    """Watch until `stop`, then hand the chain's lease back, so a standby takes over at its next step (every
    `poll_seconds`, 2 s by default) instead of when the lease runs out (30 s)."""
    try:
        watcher.run(stop)
    finally:
        try:
            watcher.release_lease()
        except Exception as exc:  # the database is gone: the lease simply runs out
            log.warning("could not release the watcher lease", chain_id=watcher.chain.id, error=repr(exc))
        else:
            log.info("watcher stopped, lease released", chain_id=watcher.chain.id)


def start_chain_services(runtime: Runtime, *, watchers: bool) -> list[Thread]:
    threads: list[Thread] = []
    if runtime.devnet is not None:
        stop = threading.Event()
        miner = threading.Thread(target=runtime.devnet.run_miner, args=(stop,), daemon=True, name="kassa-devnet-miner")
        miner.start()
        threads.append((miner, stop))
    if watchers:
        for watcher in watchers_for(runtime):
            stop = threading.Event()
            thread = threading.Thread(
                target=run_watcher, args=(watcher, stop), daemon=True, name=f"kassa-watcher-{watcher.chain.id}"
            )
            thread.start()
            threads.append((thread, stop))
    return threads
