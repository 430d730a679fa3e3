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
from kassa.payments.recording import report_unmatched, to_api_amount


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
    if session is None:
        return "none"
    if session.status not in (Status.OPEN, Status.INCOMPLETE):
        return _report_uncredited(db, clock, session)
    total = confirmed_total(db, session_id)
    if total == 0:
        return "none"
    if not session.amount_pending and total >= session.amount_total:
        if complete_session(db, clock, session_id, public_url=public_url, amount_received=total):
            return "complete"
        return _report_uncredited(db, clock, session)
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
    return _report_uncredited(db, clock, session)


def _report_uncredited(db: Session, clock: Clock, session: CheckoutSession) -> str:
    """A session that expired first (it won a race with crediting, or expired after MAX_WAIT while a payment
    was still confirming) takes no payment: its confirmed payments become late and are reported, once each.
    A session that completed first (a payment still confirming when another one, or the merchant's acceptance,
    completed it) takes no more: payments confirmed after its completion become after_completion, reported."""
    db.refresh(session)
    stmt = update(ChainTransfer).where(
        ChainTransfer.session_id == session.id,
        ChainTransfer.state == "confirmed",
        ChainTransfer.kind == "payment",
    )
    if session.status == Status.EXPIRED:
        kind = "late"
    elif session.status == Status.COMPLETE and session.completed_at is not None:
        # Those confirmed by the completion's own transaction were counted in amountReceived.
        kind, stmt = "after_completion", stmt.where(ChainTransfer.confirmed_at > session.completed_at)
    else:
        return "none"
    late = (
        db.execute(
            stmt.values(kind=kind, updated_at=clock.now())
            .returning(ChainTransfer.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    for transfer in db.scalars(
        select(ChainTransfer).where(ChainTransfer.id.in_(late)).execution_options(populate_existing=True)
    ):
        report_unmatched(db, clock, transfer)
    return "none"
