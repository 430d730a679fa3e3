"""Auto-recover: look at one transaction by hash (a buyer says "I paid") and record what it paid, now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.chains.devnet import RpcError
from kassa.chains.registry import Chain
from kassa.chains.rpc import Rpc, to_int
from kassa.clock import Clock
from kassa.errors import BadRequest
from kassa.payments.crediting import credit_session
from kassa.payments.models import ChainTransfer
from kassa.payments.recording import BlockInfo, block_info_from, parse_transfer_log, record_logs

HASH_LENGTH = 66


@dataclass(frozen=True)
class ChainView:
    """What the node said about a transaction, read before any database work (RPC never runs inside it)."""

    logs: list[dict[str, Any]]
    block: BlockInfo
    canonical: bool
    confirmations: int


def fetch(chain: Chain, rpc: Rpc, tx_hash: str) -> ChainView:
    tx_hash = tx_hash.strip().lower()
    if len(tx_hash) != HASH_LENGTH or not tx_hash.startswith("0x"):
        raise BadRequest("transactionHash: must be a 0x-prefixed 32-byte hash")
    try:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        if receipt is None:
            raise BadRequest(f"transactionHash: chain {chain.id} does not know this transaction (yet)")
        if to_int(receipt.get("status", "0x1")) != 1:
            raise BadRequest("transactionHash: the transaction failed on chain and moved no tokens")
        number = to_int(receipt["blockNumber"])
        block = block_info_from(rpc.call("eth_getBlockByNumber", [hex(number), False]))
        head = to_int(rpc.call("eth_blockNumber", []))
    except RpcError as exc:
        raise BadRequest(f"chainId: chain {chain.id} could not be reached: {exc.message}") from exc
    canonical = block.hash == str(receipt["blockHash"]).lower()
    return ChainView(list(receipt.get("logs") or []), block, canonical, head - number + 1)


def recover(db: Session, clock: Clock, public_url: str, chain: Chain, view: ChainView) -> list[ChainTransfer]:
    """Record the transaction's transfers to deposit addresses; confirm them if deep enough; credit."""
    for log in view.logs:
        log.setdefault("blockNumber", hex(view.block.number))
    record_logs(db, clock, chain, view.logs, lambda _number: view.block)
    keys = [
        (str(log["transactionHash"]).lower(), to_int(log["logIndex"]))
        for log in view.logs
        if parse_transfer_log(log) is not None
    ]
    transfers = [
        t
        for t in db.scalars(
            select(ChainTransfer).where(
                ChainTransfer.chain_id == chain.id, ChainTransfer.tx_hash.in_({k[0] for k in keys})
            )
        )
        if (t.tx_hash, t.log_index) in keys
    ]
    sessions: set[uuid.UUID] = set()
    for transfer in transfers:
        if transfer.state == "pending" and view.canonical and view.confirmations >= chain.confirmations:
            transfer.state, transfer.updated_at = "confirmed", clock.now()
            transfer.confirmed_at = transfer.confirmed_at or clock.now()  # the first confirmation, kept over reorgs
            sessions.add(transfer.session_id)
    db.flush()
    for session_id in sessions:
        credit_session(db, clock, public_url, session_id)
    return transfers
