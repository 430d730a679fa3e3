"""Checkout session events: the session as of the change, in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kassa.checkout.models import CheckoutSession
from kassa.checkout.serialize import session_dict
from kassa.clock import Clock
from kassa.events.models import Event
from kassa.events.service import emit


def emit_session_event(db: Session, clock: Clock, public_url: str, session: CheckoutSession, type: str) -> Event:
    db.flush()
    data = session_dict(db, public_url, session)
    event = emit(
        db,
        clock,
        organization_id=session.organization_id,
        mode=session.mode,
        type=type,
        object_type="checkout_session",
        object_id=session.id,
        data=data,
    )
    if type == "checkout_session.completed":
        # Copperx also announces the payment intent itself; its object carries the session's id.
        emit(
            db,
            clock,
            organization_id=session.organization_id,
            mode=session.mode,
            type="payment_intent.succeeded",
            object_type="payment_intent",
            object_id=session.payment_intent_id,
            data=data["paymentIntent"] | {"checkoutSessionId": str(session.id)},
        )
    return event
