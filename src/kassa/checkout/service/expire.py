"""Expiry: at expiresAt (job and sweep) or on the merchant's request. Exactly once, by a conditional UPDATE;
the one caller that expires the session also releases the promotion code redemption it reserved."""

from __future__ import annotations

import uuid

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.service.events import emit_session_event
from kassa.checkout.service.queries import get_session
from kassa.checkout.state import InvalidTransition, PaymentStatus, Status, Transition, next_status, sources_of
from kassa.clock import Clock
from kassa.discounts.redemption import release_promotion_code
from kassa.jobs.queue import RetryLater


class ExpiryWaits(RetryLater):
    """The session's time is up, but a payment may still be on its way: try again shortly."""


def expire_if_due(
    db: Session, clock: Clock, session_id: uuid.UUID, public_url: str = "", *, raise_if_waiting: bool = False
) -> bool:
    """Expire the session if it is open and past expiresAt; True for the one caller that did it."""
    session = db.get(CheckoutSession, session_id)
    if session is None or session.status != Status.OPEN or session.expires_at > clock.now():
        return False
    from kassa.payments.guards import expiry_blocked  # payments builds on checkout, not the other way

    if expiry_blocked(db, clock, session):
        if raise_if_waiting:
            raise ExpiryWaits(str(session_id))
        return False
    return _expire(db, clock, session, public_url, due_only=True)


def expire_now(
    db: Session, clock: Clock, principal: Principal, session_id: uuid.UUID, public_url: str
) -> CheckoutSession:
    """The merchant's POST …/expire: open → expired, anything else is a 400 saying why."""
    session = get_session(db, principal, session_id)
    next_status(session.status, Transition.EXPIRE)  # raises with the reason
    if not _expire(db, clock, session, public_url, due_only=False):
        db.refresh(session)
        raise InvalidTransition(Status(session.status), Transition.EXPIRE)
    return session


def _expire(db: Session, clock: Clock, session: CheckoutSession, public_url: str, *, due_only: bool) -> bool:
    now = clock.now()
    stmt = (
        update(CheckoutSession)
        .where(CheckoutSession.id == session.id, CheckoutSession.status.in_(sources_of(Transition.EXPIRE)))
        .values(
            status=Status.EXPIRED.value,
            payment_status=PaymentStatus.UNPAID.value,
            payment_intent_status="canceled",
            expired_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if due_only:
        stmt = stmt.where(CheckoutSession.expires_at <= now)
    result = db.execute(stmt)
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return False
    db.refresh(session)
    if session.promotion_code_id is not None:
        release_promotion_code(db, Principal.of(session.organization_id, session.mode), session.promotion_code_id)
    emit_session_event(db, clock, public_url, session, "checkout_session.expired")
    return True
