"""Recording a refund the merchant made outside Kassa (Copperx's mark-as-refund of a payment intent).

Kassa moves no money back: the merchant refunds the buyer from their own wallet and records it here, so the
session shows it and subscribers hear of it. Each payment intent is marked once; the event is written in the
same transaction as the mark.
"""

from __future__ import annotations

import uuid

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from kassa.auth.keys import Principal
from kassa.checkout.models import CheckoutSession
from kassa.checkout.serialize import session_dict
from kassa.checkout.state import Status
from kassa.clock import Clock
from kassa.errors import BadRequest, NotFound
from kassa.events.service import emit

# Not in Copperx's WebhookEvents enum, which has no refund event: ours, named like its invoice.marked_as_paid.
MARKED_REFUNDED_EVENT = "payment_intent.marked_as_refunded"


def mark_refunded(
    db: Session,
    clock: Clock,
    principal: Principal,
    payment_intent_id: uuid.UUID,
    comment: str | None,
    *,
    public_url: str,
) -> CheckoutSession:
    """Mark a paid payment intent as refunded outside Kassa; return its session."""
    session = db.scalars(
        select(CheckoutSession).where(
            CheckoutSession.payment_intent_id == payment_intent_id,
            CheckoutSession.organization_id == principal.organization_id,
            CheckoutSession.mode == principal.mode,
        )
    ).one_or_none()
    if session is None:
        raise NotFound("Payment intent not found")
    if session.status != Status.COMPLETE:
        raise BadRequest(
            f"Only a paid payment intent can be marked as refunded; its checkout session is {session.status}",
            code="payment_intent_not_paid",
        )
    now = clock.now()
    result = db.execute(
        update(CheckoutSession)
        .where(
            CheckoutSession.id == session.id,
            CheckoutSession.status == Status.COMPLETE.value,
            CheckoutSession.marked_refunded_at.is_(None),
        )
        .values(marked_refunded_at=now, mark_refunded_comment=comment, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:  # marked already, perhaps by a concurrent request that won the row
        raise BadRequest("This payment intent is already marked as refunded", code="payment_intent_already_refunded")
    db.refresh(session)
    intent = session_dict(db, public_url, session)["paymentIntent"]
    emit(
        db,
        clock,
        organization_id=session.organization_id,
        mode=session.mode,
        type=MARKED_REFUNDED_EVENT,
        object_type="payment_intent",
        object_id=session.payment_intent_id,
        data=intent | {"checkoutSessionId": str(session.id)},
    )
    return session
