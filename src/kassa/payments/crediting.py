"""Turning confirmed transfers into session state: complete, part-paid, or nothing yet."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from kassa.checkout.models import CheckoutSession
from kassa.checkout.service.complete import complete_session
from kassa.checkout.service.events import emit_session_event
from kassa.checkout.state import Status, Transition, sources_of
from kassa.clock import Clock
from kassa.payments.models import ChainTransfer
from kassa.payments.recording import to_api_amount


def confirmed_total(db: Session, session_id: uuid.UUID) -> int:
    """What the confirmed payments of a session are worth, in 8-decimal units.

    Raw amounts are summed per token before converting, so rounding happens once per token, not per transfer.
    """
    raw: dict[tuple[int, str, int], int] = defaultdict(int)
    rows = db.execute(
        select(
            ChainTransfer.chain_id, ChainTransfer.token_address, ChainTransfer.decimals, ChainTransfer.amount_raw
        ).where(
            ChainTransfer.session_id == session_id,
            ChainTransfer.state == "confirmed",
            ChainTransfer.kind == "payment",
        )
    )
    for chain_id, token, decimals, amount_raw in rows:
        raw[(chain_id, token, decimals)] += int(amount_raw)
    return sum(to_api_amount(total, decimals) for (_, _, decimals), total in raw.items())


def credit_session(db: Session, clock: Clock, public_url: str, session_id: uuid.UUID) -> str:
    """Apply what has been confirmed; returns "complete", "partial" or "none"."""
    session = db.get(CheckoutSession, session_id, populate_existing=True)
    if session is None or session.status not in (Status.OPEN, Status.INCOMPLETE):
        return "none"
    total = confirmed_total(db, session_id)
    if total == 0:
        return "none"
    if not session.amount_pending and total >= session.amount_total:
        if complete_session(db, clock, session_id, public_url=public_url, amount_received=total):
            return "complete"
        return "none"
    if total == session.amount_received and session.status == Status.INCOMPLETE:
        return "partial"
    now = clock.now()
    result = db.execute(
        update(CheckoutSession)
        .where(CheckoutSession.id == session_id, CheckoutSession.status.in_(sources_of(Transition.PART_PAY)))
        .values(status=Status.INCOMPLETE.value, amount_received=total, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        db.refresh(session)
        emit_session_event(db, clock, public_url, session, "checkout_session.partially_paid")
        return "partial"
    return "none"
