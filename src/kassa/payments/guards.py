"""When a session must not expire yet, although its time is up.

A transfer included in a block at or before expiresAt counts even if it confirms later, so expiry waits until
(1) every chain the session can be paid on has been scanned past expiresAt, and (2) no transfer included by
then is still waiting for confirmations. A chain whose watcher is stuck cannot hold a session open forever:
after MAX_WAIT the session expires anyway, and anything found or confirmed later is reported as late
(payments/crediting.py).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kassa.checkout.models import CheckoutSession
from kassa.clock import Clock
from kassa.payments.models import ChainCursor, ChainTransfer, DepositAddress

MAX_WAIT = timedelta(hours=1)


def expiry_blocked(db: Session, clock: Clock, session: CheckoutSession) -> bool:
    if clock.now() > session.expires_at + MAX_WAIT:
        return False
    # The cursors are read before the transfers, and the order matters: on PostgreSQL each statement sees what
    # was committed when it started, and a watcher commits a transfer with the cursor past it. Read the other
    # way round, a watcher committing in between would show the cursor past expiresAt but not the transfer
    # included by then, and an in-time payment would lose to expiry.
    chain_ids = list(db.scalars(select(DepositAddress.chain_id).where(DepositAddress.session_id == session.id)))
    if chain_ids:
        rows = db.execute(
            select(ChainCursor.chain_id, ChainCursor.last_block_timestamp).where(ChainCursor.chain_id.in_(chain_ids))
        )
        scanned = {chain_id: stamp for chain_id, stamp in rows}  # noqa: C416  # dict(Result) would read it as a mapping
        if any((stamp := scanned.get(c)) is None or stamp < session.expires_at for c in chain_ids):
            return True
    pending = db.scalar(
        select(ChainTransfer.id)
        .where(
            ChainTransfer.session_id == session.id,
            ChainTransfer.state == "pending",
            ChainTransfer.kind == "payment",
            ChainTransfer.block_timestamp <= session.expires_at,
        )
        .limit(1)
    )
    return pending is not None
