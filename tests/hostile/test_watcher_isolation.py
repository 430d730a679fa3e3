"""Point 2b: one session whose crediting fails must not hold back other sessions or the chain cursor.

The failure is made by construction in the database itself: a trigger refuses to let that one session become
complete, as PostgreSQL refused the NUL in a buyer's name. Other sessions paid after it, on the same chain,
still complete; the failing one stays pending and is retried, and completes once the cause is gone.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager

from sqlalchemy import select

from kassa.payments.models import ChainTransfer
from support import LiveServer, Merchant, refusing
from test_payments_devnet import dev_session, pay, wait_for

RAW_USDC = 10**6  # the dev chain's tokens have 6 decimals


def refuse_completion(live: LiveServer, session_id: uuid.UUID) -> AbstractContextManager[None]:
    """The database refuses to let this one session become complete."""
    # SQLite stores a UUID column as 32 hex digits, PostgreSQL as a uuid.
    stored = session_id.hex if live.backend == "sqlite" else str(session_id)
    condition = f"NEW.id = '{stored}' AND NEW.status = 'complete'"
    return refusing(live, f"kassa_test_poison_{session_id.hex[:12]}", "BEFORE UPDATE", "checkout_sessions", condition)


def transfers_of(live: LiveServer, session_id: str) -> list[ChainTransfer]:
    with live.database.read_sessions() as db:
        return list(db.scalars(select(ChainTransfer).where(ChainTransfer.session_id == uuid.UUID(session_id))))


def test_a_session_that_cannot_complete_holds_back_no_other_session(live: LiveServer, shop: Merchant) -> None:
    poisoned = dev_session(shop)
    others = [dev_session(shop) for _ in range(3)]
    with refuse_completion(live, uuid.UUID(poisoned["id"])):
        pay(live, poisoned, 10 * RAW_USDC)  # paid first: its block is confirmed before the others'
        for session in others:
            pay(live, session, 10 * RAW_USDC)
        for session in others:
            done = wait_for(shop, session["id"], lambda body: body["status"] == "complete")
            assert done["status"] == "complete", done["status"]
            assert done["paymentStatus"] == "paid"
        [stuck] = transfers_of(live, poisoned["id"])
        [later, *_] = transfers_of(live, others[-1]["id"])
        # Deep enough to be confirmed (a later block was), yet not credited: its failure was isolated.
        assert stuck.block_number < later.block_number
        assert later.state == "confirmed"
        assert stuck.state == "pending"
        assert shop.http.get(f"/api/v1/checkout/sessions/{poisoned['id']}").json()["status"] == "open"
    # The cause is gone: the retry (with backoff) completes it.
    healed = wait_for(shop, poisoned["id"], lambda body: body["status"] == "complete", timeout=60)
    assert healed["status"] == "complete"
    assert [t.state for t in transfers_of(live, poisoned["id"])] == ["confirmed"]
