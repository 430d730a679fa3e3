"""The chain watcher: one per chain, reading Transfer logs of the configured tokens and crediting sessions.

Each step: take (or keep) the chain's lease; notice a new genesis (the dev chain restarted) and rescan from
zero; check that the block at the cursor is still canonical, rewinding when it is not; scan the next blocks in
bounded chunks with one `eth_getLogs` per chunk, filtered by token contracts and the Transfer topic only — so
the RPC cost per block does not grow with the number of open sessions — and match recipients against deposit
addresses in the database; then confirm transfers that are deep enough, re-checking their block hash so a
reorg orphans them; and credit the sessions concerned. The cursor moves in the same transaction as the
transfers it found, so a crash or restart resumes exactly where the last commit left off. RPC calls are made
outside database transactions.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from kassa.chains.contracts import TRANSFER_TOPIC
from kassa.chains.devnet import RpcError
from kassa.chains.registry import Chain
from kassa.chains.rpc import Rpc, to_int
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.logs import get_logger
from kassa.payments.crediting import credit_session
from kassa.payments.models import ChainCursor, ChainTransfer
from kassa.payments.recording import BlockInfo, block_info_from, record_logs
from kassa.payments.reorgs import mark_reorged

log = get_logger("kassa.watcher")
LEASE = timedelta(seconds=30)
CHUNKS_PER_STEP = 20
MAX_BACKOFF_SECONDS = 30.0
CREDIT_RETRY_SECONDS = 1.0  # the first retry of a session whose crediting failed; doubles up to the maximum


@dataclass
class StepStats:
    leased: bool = False
    scanned_to: int | None = None
    recorded: int = 0
    confirmed: int = 0
    orphaned: int = 0
    reorged: int = 0
    rpc_calls: int = 0
    credit_failures: int = 0


@dataclass
class ChainWatcher:
    settings: Settings
    database: Database
    chain: Chain
    rpc: Rpc
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    on_step: Callable[[StepStats], None] | None = None
    chunks_per_step: int = CHUNKS_PER_STEP
    _blocks: dict[int, BlockInfo] = field(default_factory=dict)
    _stats: StepStats = field(default_factory=StepStats)
    _failures: dict[uuid.UUID, _Failure] = field(default_factory=dict)
    # After a reorg: confirmed transfers above this block are re-checked (kept until a re-check succeeds).
    _recheck_after: int | None = None

    # --- the loop -------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            try:
                self.step()
                backoff = 1.0
                stop.wait(self.chain.poll_seconds)
            except RpcError as exc:
                # The node is unreachable or failing: nothing was committed past the last good chunk.
                log.warning("rpc error, backing off", chain_id=self.chain.id, error=exc.message, seconds=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception as exc:  # keep watching whatever happens; the next step starts from the cursor
                log.error("watcher step failed", chain_id=self.chain.id, error=repr(exc), exc_info=exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def step(self) -> StepStats:
        self._stats = StepStats()
        self._blocks.clear()
        if not self._take_lease():
            return self._stats
        self._stats.leased = True
        head = to_int(self._call("eth_blockNumber", []))
        genesis = self._block(0).hash
        cursor = self._sync_genesis(genesis, head)
        last = self._check_cursor(cursor)
        if last < cursor.last_block:  # rewound: a reorg under the cursor
            self._note_reorg(last)
        for _ in range(self.chunks_per_step):
            if last >= head:
                break
            last = self._scan(last + 1, min(head, last + self.chain.max_block_range))
        self._recheck_confirmed(head)
        self._confirm(head)
        if self._stats.orphaned:  # _confirm saw a reorg the cursor check missed (it came mid-step): re-check
            self._note_reorg(head - self._reorg_window())
        if self.on_step is not None:
            self.on_step(self._stats)
        return self._stats

    # --- pieces ---------------------------------------------------------------------------------------

    def _call(self, method: str, params: list[Any]) -> Any:
        self._stats.rpc_calls += 1
        return self.rpc.call(method, params)

    def _block(self, number: int) -> BlockInfo:
        if number not in self._blocks:
            raw = self._call("eth_getBlockByNumber", [hex(number), False])
            if raw is None:
                raise RpcError(-32001, f"block {number} not available")
            self._blocks[number] = block_info_from(raw)
        return self._blocks[number]

    def _take_lease(self) -> bool:
        clock = self.settings.clock
        now = clock.now()
        with self.database.write_sessions() as db:
            if db.get(ChainCursor, self.chain.id) is None:
                db.add(ChainCursor(chain_id=self.chain.id, last_block=-1, updated_at=now))
                try:
                    db.flush()
                except Exception:  # another watcher created it at the same moment
                    db.rollback()
            result = db.execute(
                update(ChainCursor)
                .where(
                    ChainCursor.chain_id == self.chain.id,
                    or_(
                        ChainCursor.lease_owner.is_(None),
                        ChainCursor.lease_owner == self.owner,
                        ChainCursor.lease_until < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + LEASE)
            )
            db.commit()
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def release_lease(self) -> None:
        with self.database.write_sessions() as db:
            db.execute(
                update(ChainCursor)
                .where(ChainCursor.chain_id == self.chain.id, ChainCursor.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            db.commit()

    def _sync_genesis(self, genesis: str, head: int) -> ChainCursor:
        with self.database.write_sessions() as db:
            cursor = db.get(ChainCursor, self.chain.id)
            assert cursor is not None
            if cursor.genesis_hash != genesis:
                if cursor.genesis_hash is not None:
                    log.warning("new genesis: the chain was reset, rescanning", chain_id=self.chain.id)
                    db.execute(
                        update(ChainTransfer)
                        .where(ChainTransfer.chain_id == self.chain.id, ChainTransfer.state == "pending")
                        .values(state="orphaned", updated_at=self.settings.clock.now())
                    )
                    cursor.last_block = -1
                elif cursor.last_block < 0:
                    cursor.last_block = self._first_block(head)
                cursor.genesis_hash = genesis
                cursor.last_block_hash = None
                cursor.last_block_timestamp = None
                cursor.updated_at = self.settings.clock.now()
            db.commit()
            db.expunge(cursor)
            return cursor

    def _first_block(self, head: int) -> int:
        """Where a chain seen for the first time starts: from genesis on test chains, near the head elsewhere
        (no deposit address existed before Kassa first looked)."""
        if self.chain.testnet and head <= 10 * self.chain.max_block_range:
            return -1
        return max(-1, head - self.chain.max_block_range)

    def _check_cursor(self, cursor: ChainCursor) -> int:
        if cursor.last_block < 0 or cursor.last_block_hash is None:
            return cursor.last_block
        if self._block(cursor.last_block).hash == cursor.last_block_hash:
            return cursor.last_block
        # The block under the cursor left the chain: rewind past any plausible reorg and rescan.
        rewound = max(-1, cursor.last_block - max(64, 4 * self.chain.confirmations))
        log.warning("reorg under the cursor, rewinding", chain_id=self.chain.id, to=rewound)
        with self.database.write_sessions() as db:
            db.execute(
                update(ChainCursor)
                .where(ChainCursor.chain_id == self.chain.id, ChainCursor.lease_owner == self.owner)
                .values(last_block=rewound, last_block_hash=None, updated_at=self.settings.clock.now())
            )
            db.commit()
        return rewound

    def _scan(self, start: int, end: int) -> int:
        logs = self._call(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(start),
                    "toBlock": hex(end),
                    "address": [a.address for a in self.chain.assets],
                    "topics": [TRANSFER_TOPIC],
                }
            ],
        )
        tip = self._block(end)
        # Blocks of matching logs are fetched before the transaction opens (RPC never runs inside one).
        for entry in logs:
            self._block(to_int(entry["blockNumber"]))
        with self.database.write_sessions() as db:
            recorded = record_logs(db, self.settings.clock, self.chain, logs, self._block)
            moved = db.execute(
                update(ChainCursor)
                .where(ChainCursor.chain_id == self.chain.id, ChainCursor.lease_owner == self.owner)
                .values(
                    last_block=end,
                    last_block_hash=tip.hash,
                    last_block_timestamp=tip.timestamp,
                    updated_at=self.settings.clock.now(),
                )
            )
            assert isinstance(moved, CursorResult)
            if moved.rowcount != 1:
                db.rollback()  # our lease was taken over: the other watcher will scan these blocks
                raise RpcError(-32002, "lease lost")
            db.commit()
        self._stats.recorded += len(recorded)
        self._stats.scanned_to = end
        return end

    def _confirm(self, head: int) -> None:
        depth = self.chain.confirmations
        with self.database.read_sessions() as db:
            due = list(
                db.execute(
                    select(
                        ChainTransfer.id, ChainTransfer.session_id, ChainTransfer.block_number, ChainTransfer.block_hash
                    ).where(
                        ChainTransfer.chain_id == self.chain.id,
                        ChainTransfer.state == "pending",
                        ChainTransfer.block_number <= head - depth + 1,
                    )
                )
            )
        now = time.monotonic()
        due = [row for row in due if self._failures.get(row.session_id, _NO_FAILURE).retry_at <= now]
        if not due:
            return
        verdicts = {row.id: self._block(row.block_number).hash == row.block_hash for row in due}
        with self.database.write_sessions() as db:
            self._orphan(db, [row for row in due if not verdicts[row.id]])
            by_session: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
            for row in due:
                if verdicts[row.id]:
                    by_session[row.session_id].append(row.id)
            for session_id, transfer_ids in by_session.items():
                self._credit(db, session_id, transfer_ids)
            db.commit()

    def _credit(self, db: Session, session_id: uuid.UUID, transfer_ids: list[uuid.UUID]) -> None:
        """Confirm one session's transfers and credit it, in a savepoint of its own.

        A session whose crediting fails (a bug, or data the database refuses) must not hold back the others or
        the cursor: its savepoint is rolled back, so its transfers stay pending, which is what brings it back
        after a restart too; in this process it is retried with a growing backoff, and every failure is logged.
        """
        try:
            with db.begin_nested():
                now = self.settings.clock.now()
                confirmed = 0
                for transfer_id in transfer_ids:
                    transfer = db.get(ChainTransfer, transfer_id)
                    if transfer is None or transfer.state != "pending":
                        continue
                    transfer.state, transfer.updated_at = "confirmed", now
                    transfer.confirmed_at = transfer.confirmed_at or now  # the first confirmation, kept over reorgs
                    confirmed += 1
                credit_session(db, self.settings.clock, self.settings.public_url, session_id)
        except Exception as exc:  # isolate whatever went wrong to this session (the savepoint is rolled back)
            failure = self._failures.get(session_id, _NO_FAILURE).next(time.monotonic())
            self._failures[session_id] = failure
            self._stats.credit_failures += 1
            log.error(
                "crediting a session failed; its transfers stay pending and it is retried",
                chain_id=self.chain.id,
                session_id=str(session_id),
                attempt=failure.attempts,
                retry_in_seconds=round(failure.retry_at - time.monotonic(), 1),
                error=repr(exc),
                exc_info=exc,
            )
            return
        self._failures.pop(session_id, None)
        self._stats.confirmed += confirmed

    def _note_reorg(self, after: int) -> None:
        self._recheck_after = after if self._recheck_after is None else min(after, self._recheck_after)

    def _reorg_window(self) -> int:
        """How deep a reorg is looked for: as far as the cursor check rewinds."""
        return max(64, 4 * self.chain.confirmations)

    def _recheck_confirmed(self, head: int) -> None:
        """After a reorg, confirmed transfers whose block left the chain are marked `reorged` and reported.

        Runs after the rescan, so a transfer re-included in another block has been moved there already (back to
        pending) and is left alone. A confirmed transfer is re-checked only after a reorg was seen, so a quiet
        chain costs no extra RPC calls.
        """
        after = self._recheck_after
        if after is None:
            return
        with self.database.read_sessions() as db:
            rows = list(
                db.execute(
                    select(ChainTransfer.id, ChainTransfer.block_number, ChainTransfer.block_hash).where(
                        ChainTransfer.chain_id == self.chain.id,
                        ChainTransfer.state == "confirmed",
                        ChainTransfer.block_number > after,
                    )
                )
            )
        gone = {
            row.id: row.block_hash
            for row in rows
            if row.block_number > head or self._block(row.block_number).hash != row.block_hash
        }
        if gone:
            with self.database.write_sessions() as db:
                for transfer in db.scalars(select(ChainTransfer).where(ChainTransfer.id.in_(list(gone)))):
                    if transfer.state == "confirmed" and transfer.block_hash == gone[transfer.id]:
                        mark_reorged(db, self.settings.clock, transfer)
                        self._stats.reorged += 1
                db.commit()
        self._recheck_after = None

    def _orphan(self, db: Session, rows: list[Any]) -> None:
        """Transfers whose block left the chain: orphaned, and the cursor rewound to rescan from there."""
        if not rows:
            return
        now = self.settings.clock.now()
        for row in rows:
            transfer = db.get(ChainTransfer, row.id)
            if transfer is None or transfer.state != "pending":
                continue
            transfer.state, transfer.updated_at = "orphaned", now
            self._stats.orphaned += 1
        lowest = min(row.block_number for row in rows)
        # Rescan from just before the orphaned block: the transfer may have been re-included elsewhere.
        db.execute(
            update(ChainCursor)
            .where(
                ChainCursor.chain_id == self.chain.id,
                ChainCursor.lease_owner == self.owner,
                ChainCursor.last_block >= lowest,
            )
            .values(last_block=lowest - 1, last_block_hash=None, updated_at=now)
        )


@dataclass(frozen=True)
class _Failure:
    """How often crediting a session failed in a row, and when to try again (monotonic seconds)."""

    attempts: int = 0
    retry_at: float = 0.0

    def next(self, now: float) -> _Failure:
        attempts = self.attempts + 1
        return _Failure(attempts, now + min(CREDIT_RETRY_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


_NO_FAILURE = _Failure()
