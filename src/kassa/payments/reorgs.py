"""A confirmed transfer whose block left the chain (a reorg deeper than the confirmations).

Kassa cannot take back what a merchant fulfilled, so the session is left as it is (a completed session stays
complete); the transfer is marked `reorged`, no longer counts towards its session, is logged, and the merchant
hears of it through a `payment.reorged` event. If the transaction shows up again in another block, the rescan
records it there (back to pending, then confirmed again) and it is credited once: it is the same row.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.clock import Clock
from kassa.events.service import emit
from kassa.logs import get_logger
from kassa.payments.models import ChainTransfer, DepositAddress
from kassa.payments.serialize import transfer_dict

log = get_logger("kassa.watcher")
REORGED_EVENT = "payment.reorged"


def mark_reorged(db: Session, clock: Clock, transfer: ChainTransfer) -> None:
    """Mark a confirmed transfer whose block is no longer canonical, and report it (in the caller's transaction)."""
    now = clock.now()
    transfer.state, transfer.updated_at = "reorged", now
    db.flush()
    deposit = db.scalar(
        select(DepositAddress).where(
            DepositAddress.chain_id == transfer.chain_id, DepositAddress.address == transfer.to_address
        )
    )
    log.warning(
        "a confirmed transfer's block left the chain; its session is left as it is",
        chain_id=transfer.chain_id,
        tx_hash=transfer.tx_hash,
        log_index=transfer.log_index,
        block_number=transfer.block_number,
        session_id=str(transfer.session_id),
        kind=transfer.kind,
        amount_raw=str(transfer.amount_raw),
    )
    emit(
        db,
        clock,
        organization_id=transfer.organization_id,
        mode=transfer.mode,
        type=REORGED_EVENT,
        object_type="transaction",
        object_id=transfer.session_id,
        data=transfer_dict(transfer, deposit, {}),
    )
